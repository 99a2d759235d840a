// Worker portal, the work list: a notice when new work is published (work.available on
// /ws/worker/, which live.js turns into a "quorum:work.available" event).
(() => {
  "use strict";

  function initWorkList() {
    const box = document.getElementById("new-work");
    const text = document.getElementById("new-work-text");
    if (!box || !text) return;
    document.addEventListener("quorum:work.available", (event) => {
      const detail = event.detail || {};
      const title = typeof detail.title === "string" ? detail.title : "a new job";
      const pay = typeof detail.pay === "string" || typeof detail.pay === "number" ? ` (pays ${detail.pay} per answer)` : "";
      text.textContent = `New work: ${title}${pay}.`;
      box.hidden = false;
    });
  }

  if (document.querySelector("[data-work-list]")) initWorkList();
})();
