// The labeling page (#labeler), its calls to the server: JSON POSTs with the CSRF token, whose
// refusals come back as errors in the server's words; the visible "Saving…" / "Saved" / "Not
// saved" around answers; and the leases the open page holds, renewed by a heartbeat and given
// back when it closes. label.js uses these (window.QuorumLabel); the template loads this first.
"use strict";

(() => {
  // This page load's id, named in every call (X-Quorum-Page) and in the closing beacon: the
  // server hands a lease to the page that asked last, and a page's beacon gives back only its
  // own, so a reload's late beacon cannot take back the item the new page shows. Random, from
  // getRandomValues (randomUUID needs a secure context).
  function newPageId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // post(url, body) -> the JSON reply, or an Error carrying the server's message (and `code`).
  function poster(csrf, page) {
    return async function post(url, body) {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json", "X-CSRFToken": csrf, "X-Quorum-Page": page, Accept: "application/json",
        },
        body: JSON.stringify(body || {}),
      });
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        // Not JSON: a signed-out session was redirected to the log-in page, or the server failed.
        throw new Error(response.redirected || response.ok
          ? "Your session has ended. Reload the page to sign in again."
          : `The server could not answer (HTTP ${response.status}). Reload the page to try again.`);
      }
      if (!response.ok) {
        const error = new Error((data && data.error && data.error.message) || "Something went wrong.");
        error.code = data && data.error && data.error.code;
        throw error;
      }
      return data;
    };
  }

  // Around every answer's request: #save-state says "Saving…" while any is on its way, "Saved"
  // once the server has stored every answer sent, "Not saved" after a refusal.
  function saver(saveState, post) {
    let sending = 0; // answers sent whose reply has not come yet
    return function sendAnswer(url, body) {
      sending += 1;
      saveState.hidden = false;
      saveState.textContent = "Saving…";
      saveState.dataset.state = "saving";
      const settle = (ok) => {
        sending -= 1;
        if (!ok) {
          saveState.textContent = "Not saved";
          saveState.dataset.state = "failed";
        } else if (sending === 0 && saveState.dataset.state !== "failed") {
          saveState.textContent = "Saved";
          saveState.dataset.state = "saved";
        }
      };
      return post(url, body).then(
        (data) => { settle(true); return data; },
        (error) => { settle(false); throw error; },
      );
    };
  }

  // The answer or skip URL of a lease, from the template's URL for lease 0.
  function leaseUrl(template, id) {
    return template.replace(/\/0\/(answer|skip)\/$/, `/${id}/$1/`);
  }

  // While the page is open it renews the items it holds (`held()`: their lease ids; the server
  // leases them for a short span at a time), so a tab that dies without a word frees them soon;
  // a lease that ran out meanwhile is not revived, and the next answer says so.
  // A page being closed gives back the items it holds (`returned()`), so a job's last items do not
  // wait for their leases to expire: the browser sends the beacon even as the page goes away, and
  // `forget()` then drops them from the page; a reload's new page takes them back (the same item
  // shows again). Only the leases still this page's are given back (`page`). A page restored from the back-forward cache gave
  // its items back, so it reloads to claim afresh.
  function keepLeases({ root, csrf, page, post, held, returned, forget }) {
    const beat = Number(root.dataset.heartbeatSeconds) || 30;
    window.setInterval(() => {
      const leases = held();
      if (leases.length) post(root.dataset.heartbeatUrl, { leases }).catch(() => {});
    }, beat * 1000);
    window.addEventListener("pagehide", () => {
      const leases = returned();
      if (!leases.length || !navigator.sendBeacon) return;
      const form = new FormData();
      form.append("leases", leases.join(","));
      form.append("page", page);
      form.append("csrfmiddlewaretoken", csrf);
      navigator.sendBeacon(root.dataset.returnUrl, form);
      forget();
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) window.location.reload();
    });
  }

  window.QuorumLabel = Object.assign(window.QuorumLabel || {}, { newPageId, poster, saver, leaseUrl, keepLeases });
})();
