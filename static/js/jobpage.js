// The client's job page on top of live.js (which fills every data-job/data-field element from
// job.progress messages at once): a gentle flash when figures change; the whole live part (stat
// tiles, charts, money) re-fetched as server-rendered HTML from [data-job-figures] when the job
// moves, finishes a consensus run or changes status; on a status change, a note and the controls
// that fit the new status (re-read from the page). "Cancel job…" is a plain link: the server's
// confirmation page says what will be charged and refunded before anything happens.
"use strict";

(() => {
  const root = document.querySelector("[data-job-page]");
  if (!root) return;
  const jobId = root.dataset.jobPage;
  const note = document.getElementById("status-note");

  // Re-fetching the figures: at most one request in flight and one per REFRESH_MS; an event that
  // arrives meanwhile schedules one trailing refresh, so the last state always lands.
  const figures = root.querySelector("[data-job-figures]");
  const REFRESH_MS = 1500;
  let inFlight = false;
  let pending = false;
  let lastStart = 0;
  let timer = null;

  async function refresh() {
    const url = figures.getAttribute("data-job-figures") || "";
    if (!url.startsWith("/") || url.startsWith("//")) return; // same origin only
    inFlight = true;
    pending = false;
    lastStart = Date.now();
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      // Server-rendered by Django templates (escaped, no script): safe to swap in as it is.
      if (response.ok) {
        figures.innerHTML = await response.text();
        figures.dataset.refreshed = String(Number(figures.dataset.refreshed || "0") + 1);
      }
    } catch {
      // Offline for a moment: the next event (or the trailing refresh) tries again.
    } finally {
      inFlight = false;
      if (pending) schedule();
    }
  }

  function schedule() {
    pending = true;
    if (!figures || inFlight || timer !== null) return;
    const wait = Math.max(0, lastStart + REFRESH_MS - Date.now());
    timer = window.setTimeout(() => {
      timer = null;
      refresh();
    }, wait);
  }

  function tell(text) {
    if (!note) return;
    note.textContent = text;
    note.hidden = false;
  }

  // The controls (Pause, Resume, Cancel, ...) follow the status: re-read this page and swap its
  // [data-job-actions] block in, so a job paused elsewhere shows Resume without a reload.
  const actions = root.querySelector("[data-job-actions]");
  // A page on its way out (one of its forms was just posted: Resume, Pause...) must not re-read
  // itself: that read would take the message ("Resumed.") meant for the page the post leads to,
  // and the status event of that very post arrives while the old page still listens.
  let leaving = false;
  document.addEventListener("submit", (event) => {
    if (!event.defaultPrevented) leaving = true; // a form another script stopped keeps the page
  });
  window.addEventListener("pagehide", () => {
    leaving = true;
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) leaving = false; // back from the browser's cache: live again
  });
  async function refreshActions() {
    if (!actions || leaving) return;
    try {
      const response = await fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) return;
      // Server-rendered by Django templates (escaped, no script): safe to swap in as it is.
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-job-actions]");
      if (fresh) {
        actions.innerHTML = fresh.innerHTML;
        actions.dataset.status = fresh.dataset.status || "";
      }
    } catch {
      // Offline for a moment: the status note still says what happened.
    }
  }

  document.addEventListener("quorum:job.progress", (event) => {
    if (String(event.detail.job) !== jobId) return;
    schedule();
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
    schedule();
    refreshActions();
    tell(`The job is now ${event.detail.status}.`);
  });

  document.addEventListener("quorum:job.consensus", (event) => {
    if (String(event.detail.job) !== jobId) return;
    // The page's own headline (quality/estimate.py: held-out gold once there is enough of it,
    // the model's own estimate before), so the figure never flips to another story mid-swap.
    const accuracy = event.detail.estimated_accuracy;
    const el = root.querySelector('[data-consensus="estimated_accuracy"]');
    if (el && accuracy !== undefined) {
      el.textContent = accuracy === null || !Number.isFinite(Number(accuracy)) ? "—" : `${(Number(accuracy) * 100).toFixed(1)}%`;
      el.dataset.basis = event.detail.estimate_basis || "";
    }
    schedule(); // the charts and the accuracy's explanation redraw with the run's results
  });

})();
