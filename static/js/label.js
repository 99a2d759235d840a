// Worker portal: the labeling page (#labeler); the work list's "new work" notice is work_list.js.
//
// One keypress submits a label; the server answers with the next item in the same round trip.
// The page also fetches the item after the one on screen while the worker labels it, so a label
// key shows that item at once and the answer travels in the background. #save-state says
// "Saving…" while an answer is on its way and "Saved" once the server has stored every answer
// sent (the worker can leave the page then without losing one). Closing the page gives its items
// back at once (a beacon on pagehide); a reload shows the same item again (labeling/returning.py).
// window.quorumTimings keeps the latest keypress-to-next-item-painted times (ms) for tests, and
// #labeler[data-ahead="ready"] says the item after the one on screen has arrived.
// label_view.js (what is shown and the keys) and label_net.js (the server calls) load first.
"use strict";

(() => {
  const MAX_TIMINGS = 50;
  window.quorumTimings = window.quorumTimings || [];

  // --- the labeling page

  function initLabeler(root) {
    const { el, itemNodes, suggestionNodes, summary, keysList, bindKeys, undoOffer, newPageId, poster, saver, leaseUrl, keepLeases } = window.QuorumLabel;
    const $ = (id) => document.getElementById(id);
    const [itemBox, feedbackBox, announcer, countdown, skipButton, doneCount, saveState] =
      ["item", "feedback", "announcer", "countdown", "skip", "done-count", "save-state"].map($);
    const choices = Array.from(root.querySelectorAll("button.choice"));
    const names = new Map(choices.map((b) => [b.dataset.label, b.querySelector(".choice-name").textContent]));
    const hotkeys = new Map();
    for (const button of choices) if (button.dataset.hotkey) hotkeys.set(button.dataset.hotkey.toLowerCase(), button);
    const csrf = root.dataset.csrf;
    const page = newPageId(); // this load's: a reload or a second tab is another page
    const post = poster(csrf, page);
    const sendAnswer = saver(saveState, post);
    // A multi-label job: label keys and buttons tick (aria-pressed), Enter or Send submits the set.
    const multi = root.dataset.multiLabel === "true";
    const sendSet = $("send-set");
    const ticked = () => choices.filter((b) => b.getAttribute("aria-pressed") === "true").map((b) => b.dataset.label);
    function toggle(button) {
      if (busy || !lease) return;
      const on = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", on ? "true" : "false");
      announce(`${names.get(button.dataset.label)} ${on ? "ticked" : "unticked"}.`);
    }
    function untickAll() { for (const button of choices) button.setAttribute("aria-pressed", "false"); }
    // How an answer reads: a label's name, or a set's names ("none" for the empty set).
    function nameOf(answer) {
      if (Array.isArray(answer)) return answer.length ? answer.map((key) => names.get(key) || key).join(", ") : "none";
      return names.get(answer) || answer;
    }
    let lease = null; // on screen: {lease, job, seconds_left, item: {data}} (no item id: the lease names it)
    // The item after it, fetched while the worker labels this one (null: none yet, or none left).
    let ahead = null;
    let busy = false;
    let retrying = 0; // the timer of waitForWork's next look, while the server says busy
    let shownAt = 0; // performance.now() when the current item was painted
    let deadline = 0; // performance.now() at which the lease runs out
    let warned = false, done = 0; // the lease's 1-minute warning given; answers sent on this page

    // The visible "Previous item: sent <label>" above the item: what the last key press sent for
    // the item before the one on screen (#save-state says whether it is stored yet).
    const [sentLine, sentLabel] = ["sent-line", "sent-label"].map($);
    function showSent(label) {
      if (!sentLine || !sentLabel) return;
      sentLabel.textContent = nameOf(label);
      sentLine.hidden = false;
    }

    // Undo of the last answer, by the Undo button beside that line, Ctrl+Z or "u" (label_view.js:
    // offered while its reply does not say it cannot be undone).
    const undoButton = $("undo");
    const undos = undoOffer(undoButton, Number(root.dataset.undoSeconds) || 0);
    const endUndo = () => undos.end();

    function announce(message) {
      // Clear first so the same words are announced again.
      announcer.textContent = "";
      window.setTimeout(() => { announcer.textContent = message; }, 30);
    }

    // While a request runs the buttons are only marked busy (aria-disabled), not disabled, so
    // the focused one keeps the keyboard focus; with no item left they are disabled for real.
    function setEnabled(on) {
      for (const button of [...choices, skipButton, ...(sendSet ? [sendSet] : [])]) {
        button.disabled = false;
        button.setAttribute("aria-disabled", on ? "false" : "true");
      }
      itemBox.setAttribute("aria-busy", on ? "false" : "true");
    }

    const disableAll = () => { for (const button of [...choices, skipButton]) button.disabled = true; };

    function showEmpty(message) {
      lease = null;
      setEnabled(false);
      disableAll();
      itemBox.replaceChildren(el("p", { class: "muted", text: "No item on screen." }));
      $("empty-message").textContent = message || "Nothing left for you in this job.";
      $("empty").hidden = false;
      countdown.textContent = "--:--";
      announce(message || "Nothing left for you in this job.");
    }

    // Feedback comes with the reply to an answer, when the next item is on screen already: it
    // names the item it is about (the one before), and links the appeal of that answer.
    function showFeedback(feedback, about, judgment) {
      delete feedbackBox.dataset.undone; // set on a "Not undone" banner, which the next item clears
      if (!feedback) { feedbackBox.hidden = true; feedbackBox.replaceChildren(); return ""; }
      const right = feedback.correct_labels ? nameOf(feedback.correct_labels) : nameOf(feedback.correct_label);
      const yours = feedback.your_labels ? nameOf(feedback.your_labels) : nameOf(feedback.your_label);
      const parts = [
        el("strong", { text: about ? `Check item missed (the item before: “${about}”). ` : "Check item missed (the item before). " }),
        document.createTextNode(`You answered ${yours}; the right label is ${right}.`),
      ];
      // A multi-label item: name the labels decided wrong, and which way each should have gone.
      const wrong = (feedback.wrong_labels || []).map((w) => `${w.name} (should be ${w.should_be})`).join(", ");
      if (wrong) parts.push(el("span", { class: "wrong-labels", text: ` Wrong: ${wrong}.` }));
      if (feedback.explanation) parts.push(el("span", { class: "why", text: ` ${feedback.explanation}` }));
      if (judgment && root.dataset.appealUrl) {
        parts.push(document.createTextNode(" "), el("a", {
          href: `${root.dataset.appealUrl}?subject=gold:${judgment}`, text: "Think the check item is wrong? Appeal",
        }));
      }
      feedbackBox.replaceChildren(...parts);
      feedbackBox.hidden = false;
      return wrong ? `Check item missed: wrong on ${wrong}.` : `Check item missed: the right label was ${right}.`;
    }

    // Paint the next item; `pressedAt` is the keypress that asked for it (for the timing).
    function show(next, pressedAt, prefix) {
      lease = next;
      window.clearTimeout(retrying); // an item came (undo, or the look again): stop looking
      delete root.dataset.waiting;
      $("empty").hidden = true;
      if (feedbackBox.dataset.undone) showFeedback(null); // it spoke of the item before
      if (ahead && ahead.lease === next.lease) setAhead(null); // the slow path's reply can be the one fetched ahead
      itemBox.replaceChildren(...itemNodes(next.item.data), ...suggestionNodes(next.suggestion));
      if (multi) untickAll();
      deadline = performance.now() + next.seconds_left * 1000;
      warned = false;
      tick();
      setEnabled(true);
      busy = false;
      announce(`${prefix || ""}New item. ${summary(next.item.data)}`.trim());
      // requestAnimationFrame runs just before the frame is painted; the task after it runs
      // once that frame is on screen.
      window.requestAnimationFrame(() => window.setTimeout(() => {
        shownAt = performance.now();
        if (pressedAt !== undefined) {
          window.quorumTimings.push(Math.round((shownAt - pressedAt) * 10) / 10);
          if (window.quorumTimings.length > MAX_TIMINGS) window.quorumTimings.shift();
        }
      }, 0));
    }

    // A reply without a next item need not mean the job ran dry for the worker: the item fetched
    // ahead may be theirs already, or be on its way (the server was taking it for them while it
    // claimed for this reply, so that claim passed it over). Show that item, once it has come.
    async function afterAnswer(data, pressedAt, prefix) {
      let next = data.next;
      if (!next && lease) {
        const onScreen = lease.lease;
        if (!ahead && fetching && fetching.of === onScreen) await fetching.done;
        if (ahead && lease && lease.lease === onScreen) next = ahead;
      }
      if (next) {
        show(next, pressedAt, prefix);
        prefetch();
      } else if (data.code === "busy") waitForWork(data, prefix);
      else showEmpty(`${prefix || ""}${data.message || ""}`);
    }

    // `busy`: items are left for this worker, but other workers' answers hold them this moment.
    // Say so and ask again after the server's `retry_after` seconds, until an item comes or the
    // server says nothing is left (no_work): the job must not look finished while it is not.
    function waitForWork(data, prefix) {
      showEmpty(`${prefix || ""}${data.message || ""} Looking again…`);
      root.dataset.waiting = "busy";
      window.clearTimeout(retrying);
      retrying = window.setTimeout(() => {
        post(root.dataset.nextUrl)
          .then((reply) => afterAnswer(reply))
          .catch((error) => showEmpty(error.message));
      }, (Number(data.retry_after) || 1) * 1000);
    }

    // Ask for the item after the one on screen (the server holds at most one such lease).
    // `fetching` is the latest such request: {of: the lease on screen then, done: settles once
    // its reply is handled}.
    let fetching = null;
    function prefetch() {
      if (!lease || ahead) return;
      const onScreen = lease.lease;
      const request = {
        of: onScreen,
        done: post(root.dataset.nextUrl, { ahead_of: onScreen })
          .then((data) => { keepAhead(data, onScreen); })
          .catch(() => {}) // no item fetched ahead: the next answer claims one itself
          .finally(() => { if (fetching === request) fetching = null; }),
      };
      fetching = request;
    }

    function keepAhead(data, onScreen) {
      if (data.next && lease && lease.lease === onScreen && data.next.lease !== onScreen) setAhead(data.next);
    }

    function setAhead(next) {
      ahead = next;
      root.dataset.ahead = next ? "ready" : "";
    }

    // The fast path: the next item is here already. Show it now; send the answer (or the skip)
    // for the previous one, whose reply brings the item after the new one.
    function advance(url, body, pressedAt, said, onSaved, onFailed) {
      const next = ahead;
      setAhead(null);
      show(next, pressedAt, said);
      const send = onSaved ? sendAnswer : post; // a skip is no answer: nothing to say "Saved" about
      send(url, { ...body, ahead_of: next.lease })
        .then((data) => {
          if (onSaved) onSaved(data);
          keepAhead(data, next.lease);
        })
        .catch((error) => {
          if (onFailed) onFailed();
          // The answer could not be saved (lease expired, job paused...): say so; the item on
          // screen is still the worker's to label.
          feedbackBox.replaceChildren(el("strong", { text: `Your last answer was not saved: ${error.message}` }));
          feedbackBox.hidden = false;
          announce(`Your last answer was not saved: ${error.message}`);
        });
    }

    function saved(about) {
      return (data) => {
        done += 1;
        doneCount.textContent = String(done);
        const said = showFeedback(data.submitted && data.submitted.feedback, about, data.submitted && data.submitted.judgment);
        if (said) announce(said);
      };
    }

    async function choose(label, pressedAt) {
      if (busy || !lease) return;
      const seconds = Math.max((performance.now() - shownAt) / 1000, 0).toFixed(3);
      const url = leaseUrl(root.dataset.answerUrl, lease.lease);
      const answer = multi ? { labels: label } : { label };
      const about = summary(lease.item.data); // what feedback on this answer will name
      let stored;
      undos.offer(new Promise((resolve) => { stored = resolve; }));
      // An answer the server says cannot be undone (its item is complete) is not offered.
      const remember = (data) => stored(data && data.submitted && data.submitted.undoable !== false
        ? data.submitted.judgment : null);
      if (ahead) {
        showFeedback(null);
        showSent(label); // the next item shows at once
        const onSaved = saved(about);
        advance(url, { ...answer, seconds_spent: seconds }, pressedAt, `Sent ${nameOf(label)}. `,
          (data) => { remember(data); onSaved(data); }, () => stored(null));
        return;
      }
      busy = true;
      setEnabled(false);
      try {
        const data = await sendAnswer(url, { ...answer, seconds_spent: seconds });
        remember(data);
        showSent(label); // only now does the item it names leave the screen
        done += 1;
        doneCount.textContent = String(done);
        const said = showFeedback(data.submitted && data.submitted.feedback, about, data.submitted && data.submitted.judgment);
        await afterAnswer(data, pressedAt, `Saved as ${nameOf(label)}. ${said} `);
      } catch (error) {
        // The lease may be lost or the job paused: tell the worker, then ask for what is next.
        stored(null);
        endUndo();
        sentLine.hidden = true; // nothing was sent for the item before the next one
        await recover(error.message);
      }
    }

    async function skip() {
      if (busy || !lease) return;
      showFeedback(null);
      const url = leaseUrl(root.dataset.skipUrl, lease.lease);
      if (ahead) {
        advance(url, {}, undefined, "Skipped. ");
        return;
      }
      busy = true;
      setEnabled(false);
      try {
        const data = await post(url);
        await afterAnswer(data, undefined, "Skipped. ");
      } catch (error) {
        await recover(error.message);
      }
    }

    async function recover(message) {
      try {
        const data = await post(root.dataset.nextUrl);
        feedbackBox.replaceChildren(el("strong", { text: message }));
        feedbackBox.hidden = false;
        await afterAnswer(data, undefined, `${message} `);
      } catch (error) {
        busy = false;
        showEmpty(error.message);
      }
    }

    // Take the last answer back: its item comes back on screen, the item on screen becomes the
    // one fetched ahead, and the one fetched ahead (if any) is given back with the request.
    async function undo() {
      const pending = undos.last;
      if (!pending) return;
      const pressedOver = lease; // the item on screen when Undo was pressed
      undoButton.disabled = true;
      const judgment = await pending.judgment;
      if (judgment === null || undos.last !== pending) {
        if (undos.last === pending) endUndo();
        return;
      }
      const url = root.dataset.undoUrl.replace(/\/0\/undo\/$/, `/${judgment}/undo/`);
      // A fetch-ahead on its way may hold a lease already: wait, so it is the one given back.
      if (!ahead && fetching && lease && fetching.of === lease.lease) await fetching.done;
      try {
        const data = await post(url, { ahead: ahead ? ahead.lease : null });
        endUndo();
        done = Math.max(done - 1, 0);
        doneCount.textContent = String(done);
        sentLine.hidden = true;
        showFeedback(null);
        const onScreen = lease;
        setAhead(null);
        $("empty").hidden = true;
        show(data.next, undefined, "Answer undone. ");
        if (onScreen && onScreen.lease !== data.next.lease) setAhead(onScreen);
        else prefetch();
      } catch (error) {
        if (undos.last === pending) endUndo(); // not the offer of an answer sent meanwhile
        announce(`Not undone: ${error.message}`);
        // Shown over the item Undo was pressed over, until the next item shows (show()): never
        // over one the worker has moved on to meanwhile.
        if (lease !== pressedOver) return;
        feedbackBox.replaceChildren(el("strong", { text: `Not undone: ${error.message}` }));
        feedbackBox.hidden = false;
        feedbackBox.dataset.undone = "true";
      }
    }
    if (undoButton) undoButton.addEventListener("click", () => undo());

    function tick() {
      if (!lease) return;
      const left = Math.max(Math.round((deadline - performance.now()) / 1000), 0);
      const mm = String(Math.floor(left / 60)).padStart(2, "0");
      const ss = String(left % 60).padStart(2, "0");
      countdown.textContent = `${mm}:${ss}`;
      countdown.classList.toggle("low", left <= 60);
      countdown.classList.toggle("out", left === 0);
      countdown.setAttribute("aria-label", left ? `Time left on this item: ${mm}:${ss}` : "Time is up on this item");
      if (left <= 60 && left > 0 && !warned) {
        warned = true;
        announce("One minute left on this item.");
      }
    }
    window.setInterval(tick, 1000);

    for (const button of choices) {
      button.addEventListener("click", () => (multi ? toggle(button) : choose(button.dataset.label, performance.now())));
    }
    if (sendSet) sendSet.addEventListener("click", () => choose(ticked(), performance.now()));
    skipButton.addEventListener("click", () => skip());

    bindKeys({ multi, hotkeys, keys: keysList(), on: { choose, toggle, skip, undo, ticked } });

    // The leases the page holds: renewed while it is open, given back when it closes, except
    // the item whose answer is on its way (busy): that answer must land.
    keepLeases({
      root, csrf, page, post,
      held: () => [lease, ahead].filter(Boolean).map((one) => one.lease),
      returned: () => [...(lease && !busy ? [lease.lease] : []), ...(ahead ? [ahead.lease] : [])],
      forget: () => {
        lease = null;
        setAhead(null);
      },
    });

    post(root.dataset.nextUrl)
      .then((data) => afterAnswer(data))
      .catch((error) => showEmpty(error.message));
  }

  const labeler = document.getElementById("labeler");
  if (labeler) initLabeler(labeler);
})();
