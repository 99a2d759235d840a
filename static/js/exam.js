// Worker portal: the exam and the training pages, keyboard-first like the labeling page.
//
// Exam (#exam-form): one question is current (the first unanswered); a label's number key (or its
// own shortcut) picks that answer and moves on to the next question; ArrowUp/ArrowDown (or k/j)
// move between questions; Enter submits once every question is answered. Submitting (Enter or the
// button) with a question unanswered does not send the form: it marks the unanswered ones, says
// which, and focuses the first (the server refuses such a submit too, and it costs no attempt).
// The form works without this script: it only checks radios a person could click.
// Retry (#retry[data-retry-at]): when the cooldown ends, "Retake the exam" appears (the server
// still checks the cooldown on submit).
// Training (.training-choices): a number key presses that label's button; after the verdict,
// Enter follows #training-next.
"use strict";

(() => {
  function typing(event) {
    const target = event.target;
    if (!(target instanceof HTMLElement)) return false;
    return target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName)
      || (target.tagName === "INPUT" && !["radio", "checkbox"].includes(target.type));
  }

  function plainKey(event) {
    return !(event.ctrlKey || event.metaKey || event.altKey) && !typing(event);
  }

  function byHotkey(nodes, key) {
    const wanted = key.toLowerCase();
    return nodes.find((node) => (node.dataset.hotkeys || "").toLowerCase().split(" ").includes(wanted));
  }

  function initExam(form) {
    const questions = Array.from(form.querySelectorAll("fieldset.question"));
    const progress = document.getElementById("exam-progress");
    const submit = document.getElementById("exam-submit");
    let current = 0;

    const answered = (q) => q.querySelector("input[type=radio]:checked") !== null;
    const allAnswered = () => questions.every(answered);

    function update() {
      const done = questions.filter(answered).length;
      if (progress) progress.textContent = `${done} of ${questions.length} answered`;
      form.dataset.answered = String(done);
      questions.forEach((q) => { if (answered(q)) q.classList.remove("unanswered"); });
    }

    function unansweredText(numbers) {
      if (numbers.length === 1) return `Question ${numbers[0]} has no answer yet.`;
      return `Questions ${numbers.slice(0, -1).join(", ")} and ${numbers[numbers.length - 1]} have no answer yet.`;
    }

    // Before any submit: true when the exam is complete; otherwise mark what is missing, focus it.
    function readyToSubmit() {
      const open = questions.map((q, i) => (answered(q) ? -1 : i)).filter((i) => i >= 0);
      if (open.length === 0) return true;
      open.forEach((i) => questions[i].classList.add("unanswered"));
      select(open[0]);
      questions[open[0]].querySelector("input[type=radio]").focus();
      if (progress) progress.textContent = unansweredText(open.map((i) => i + 1));
      return false;
    }

    function select(index) {
      current = Math.max(0, Math.min(index, questions.length - 1));
      questions.forEach((q, i) => {
        q.classList.toggle("current", i === current);
        if (i === current) q.setAttribute("aria-current", "step");
        else q.removeAttribute("aria-current");
      });
      questions[current].scrollIntoView({ block: "nearest" });
    }

    form.addEventListener("change", (event) => {
      const fieldset = event.target.closest("fieldset.question");
      if (fieldset) select(questions.indexOf(fieldset));
      update();
    });

    document.addEventListener("keydown", (event) => {
      if (!plainKey(event)) return;
      if (event.key === "ArrowDown" || event.key === "j") {
        select(current + 1);
      } else if (event.key === "ArrowUp" || event.key === "k") {
        select(current - 1);
      } else if (event.key === "Enter") {
        if (event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement) return;
        form.requestSubmit(submit); // the submit handler below stops it while a question is open
      } else {
        const radio = byHotkey(Array.from(questions[current].querySelectorAll("input[type=radio]")), event.key);
        if (!radio) return;
        radio.checked = true;
        update();
        const next = questions.findIndex((q, i) => i > current && !answered(q));
        if (next >= 0) select(next);
        else if (allAnswered()) submit.focus();
      }
      event.preventDefault();
    });

    form.addEventListener("submit", (event) => {
      if (!readyToSubmit()) event.preventDefault();
    });

    const first = questions.findIndex((q) => !answered(q));
    select(first >= 0 ? first : 0);
    update();
    // Back from the server's refusal: the first question it named gets the focus.
    const refused = form.querySelector("fieldset.question.unanswered input[type=radio]");
    if (refused) refused.focus();
    form.dataset.keys = "ready";
  }

  function initRetry(box) {
    const at = Date.parse(box.dataset.retryAt);
    if (Number.isNaN(at)) return;
    const now = document.getElementById("retry-now");
    const tick = () => {
      if (Date.now() < at) return;
      clearInterval(timer);
      document.getElementById("retry-wait").textContent = "The wait is over: you can retry now.";
      now.hidden = false;
      now.querySelector("a").focus();
    };
    const timer = setInterval(tick, 250);
    tick();
  }

  function initTraining() {
    const buttons = Array.from(document.querySelectorAll(".training-choices button.choice"));
    const next = document.getElementById("training-next");
    document.addEventListener("keydown", (event) => {
      if (!plainKey(event)) return;
      if (next && event.key === "Enter") {
        if (event.target === next) return; // the link's own Enter follows it
        next.click();
        event.preventDefault();
        return;
      }
      const button = byHotkey(buttons, event.key);
      if (!button || button.disabled) return;
      buttons.forEach((b) => { b.disabled = true; }); // one answer per item, even on a key held down
      const form = button.form;
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "label";
      hidden.value = button.value;
      form.append(hidden);
      form.submit();
      event.preventDefault();
    });
    if (next) next.focus();
    document.getElementById("training").dataset.keys = "ready";
  }

  const form = document.getElementById("exam-form");
  if (form) initExam(form);
  const retry = document.getElementById("retry");
  if (retry) initRetry(retry);
  if (document.getElementById("training")) initTraining();
})();
