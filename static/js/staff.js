// Staff pages: live quality alerts. live.js (loaded by base.html) opens /ws/staff/ because the
// page has a data-live-socket element, and re-dispatches each message as a DOM event
// "quorum:<type>". A quality.alert ({worker, username, job, action, reason}) shows a banner and
// highlights the worker's row when it is on the page.
(() => {
  "use strict";
  const root = document.querySelector("[data-staff-alerts]");
  if (!root) return;
  const banner = root.querySelector("[data-alert-banner]");

  function show(detail) {
    if (!banner) return;
    banner.replaceChildren(); // textContent only: usernames and reasons are untrusted text
    const text = document.createElement("span");
    const verb = detail.action === "unblocked" ? "was unblocked from" : "was blocked from";
    text.textContent = `${detail.username ?? "A worker"} ${verb} job #${detail.job ?? "?"}` +
      (detail.reason ? `: ${detail.reason}` : "");
    const link = document.createElement("a");
    if (Number.isInteger(detail.worker)) {
      link.href = `/staff/workers/${detail.worker}/`;
      link.textContent = "Review";
    }
    const close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => { banner.hidden = true; });
    banner.append(text, link, close);
    banner.hidden = false;
  }

  document.addEventListener("quorum:quality.alert", (event) => {
    const detail = event.detail || {};
    show(detail);
    const row = document.querySelector(`tr[data-worker="${Number(detail.worker)}"]`);
    if (row) {
      row.classList.add("alerted");
      const status = row.querySelector('[data-field="status"]');
      if (status && detail.action !== "unblocked") {
        status.textContent = "blocked";
        status.className = "badge blocked";
      }
    }
  });
})();
