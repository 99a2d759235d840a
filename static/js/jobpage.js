// The client's job page on top of live.js (which fills every data-job/data-field element from
// job.progress messages): a gentle flash when figures change, a note when the status or the
// consensus changes (with a reload to redraw the charts), and a confirm before cancelling.
"use strict";

(() => {
  const root = document.querySelector("[data-job-page]");
  if (!root) return;
  const jobId = root.dataset.jobPage;
  const note = document.getElementById("status-note");

  function tell(text) {
    if (!note) return;
    note.textContent = text + " ";
    const reload = document.createElement("button");
    reload.type = "button";
    reload.className = "small secondary";
    reload.textContent = "Reload";
    reload.addEventListener("click", () => window.location.reload());
    note.appendChild(reload);
    note.hidden = false;
  }

  document.addEventListener("quorum:job.progress", (event) => {
    if (String(event.detail.job) !== jobId) return;
    for (const el of root.querySelectorAll(`[data-job="${jobId}"][data-field="percent"], [data-job="${jobId}"][data-field="judgments"]`)) {
      el.classList.remove("flash");
      void el.offsetWidth; // restart the animation
      el.classList.add("flash");
    }
  });

  document.addEventListener("quorum:job.status", (event) => {
    if (String(event.detail.job) !== jobId) return;
    for (const badge of root.querySelectorAll(`[data-job="${jobId}"][data-field="status"]`)) {
      badge.className = `badge ${event.detail.status}`;
      badge.textContent = event.detail.status;
    }
    tell(`The job is now ${event.detail.status}.`);
  });

  document.addEventListener("quorum:job.consensus", (event) => {
    if (String(event.detail.job) !== jobId) return;
    const accuracy = Number(event.detail.estimated_accuracy);
    const el = root.querySelector('[data-consensus="estimated_accuracy"]');
    if (el && Number.isFinite(accuracy)) el.textContent = `${(accuracy * 100).toFixed(1)}%`;
    tell("A new consensus run finished; reload to redraw the charts.");
  });

  const cancel = root.querySelector("[data-confirm-cancel]");
  if (cancel) {
    // The link leads to a confirmation page; with JavaScript, confirm here and post directly.
    cancel.addEventListener("click", (event) => {
      event.preventDefault();
      if (!window.confirm("Cancel this job? Workers stop at once, completed items are charged and the rest of the escrow returns to your balance.")) return;
      const form = document.createElement("form");
      form.method = "post";
      form.action = cancel.getAttribute("href");
      const token = document.querySelector("input[name=csrfmiddlewaretoken]");
      const csrf = document.createElement("input");
      csrf.type = "hidden";
      csrf.name = "csrfmiddlewaretoken";
      csrf.value = token ? token.value : (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
      form.appendChild(csrf);
      document.body.appendChild(form);
      form.submit();
    });
  }
})();
