// The data browser (templates/client/data.html) on top of live.js: when the job's progress moves
// (a judgment came in), fetch the rows of the page on show again from the JSON API (same filter
// and cursor, the session's cookie) and update each row's judgment count, label and confidence.
// At most one fetch in flight and one queued, so a busy job costs a request per message burst.
"use strict";

(() => {
  const root = document.querySelector("[data-browse-job]");
  if (!root) return;
  const jobId = root.dataset.browseJob;
  if (!/^\d+$/.test(jobId)) return;
  let busy = false;
  let again = false;

  const setCell = (row, name, text) => {
    const cell = row.querySelector(`[data-cell="${name}"]`);
    if (cell && cell.textContent !== text) {
      cell.textContent = text; // textContent: never parsed as HTML
      cell.classList.remove("flash");
      void cell.offsetWidth; // restart the animation
      cell.classList.add("flash");
    }
  };

  const refresh = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const response = await fetch(`/api/v1/jobs/${jobId}/browse/${window.location.search}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const page = await response.json();
      for (const item of page.results || []) {
        const row = root.querySelector(`tr[data-item="${Number(item.id)}"]`);
        if (!row) continue;
        setCell(row, "judgments", String(item.judgment_count));
        setCell(row, "label", item.label === null ? "—" : String(item.label));
        setCell(row, "confidence", item.confidence === null ? "—" : Number(item.confidence).toFixed(3));
      }
      root.dataset.refreshed = String(Date.now());
    } catch {
      // The next progress message tries again.
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  };

  document.addEventListener("quorum:job.progress", (event) => {
    if (String(event.detail.job) === jobId) refresh();
  });
  // A consensus run finished: its labels fill the rows, and the status line says so.
  document.addEventListener("quorum:job.consensus", (event) => {
    if (String(event.detail.job) !== jobId) return;
    const status = root.querySelector("[data-consensus-status]");
    if (status) status.textContent = `Consensus run #${Number(event.detail.run)} finished; labels below are from it.`;
    refresh();
  });
})();
