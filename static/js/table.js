// Sortable, filterable tables, as progressive enhancement. Without this script every header is a
// link that sorts on the server (?sort=key / ?sort=-key) and the filter form submits normally.
// With it: when the table holds every row (data-complete), a header click sorts the rows in place
// by each cell's data-sort-value and updates the address; an input with data-filter-table="<id>"
// hides the rows that do not contain its text as one types (the form still filters on submit).
(() => {
  "use strict";

  const compare = (a, b, numeric) => {
    if (a === "" && b === "") return 0;
    if (a === "") return 1; // rows without a figure stay last in both directions
    if (b === "") return -1;
    if (numeric) return Number(a) - Number(b);
    return a.localeCompare(b);
  };

  const cellValue = (row, index) => {
    const cell = row.cells[index];
    if (!cell) return "";
    return cell.dataset.sortValue ?? cell.textContent.trim();
  };

  function sortTable(table, th, descending) {
    const heads = Array.from(th.parentElement.cells);
    const index = heads.indexOf(th);
    const numeric = th.classList.contains("num");
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).filter((row) => row.cells.length > 1);
    rows.sort((r1, r2) => {
      const a = cellValue(r1, index);
      const b = cellValue(r2, index);
      if (a === "" || b === "") return compare(a, b, numeric); // empties last either way
      const order = compare(a, b, numeric);
      return descending ? -order : order;
    });
    rows.forEach((row) => body.appendChild(row));
    heads.forEach((head) => {
      head.setAttribute("aria-sort", head === th ? (descending ? "descending" : "ascending") : "none");
      const mark = head.querySelector(".sort-mark");
      if (mark) mark.textContent = head === th ? (descending ? "▼" : "▲") : "";
    });
  }

  function enhanceSort(table) {
    if (!table.hasAttribute("data-complete")) return; // paged: the server sorts across pages
    table.tHead.addEventListener("click", (event) => {
      const link = event.target.closest("th a");
      if (!link) return;
      event.preventDefault();
      const th = link.closest("th");
      const descending = th.getAttribute("aria-sort") === "ascending";
      sortTable(table, th, descending);
      // Keep the address in step, so a reload or a shared link shows the same order.
      const url = new URL(window.location.href);
      url.searchParams.set("sort", (descending ? "-" : "") + th.dataset.sortKey);
      url.searchParams.delete("page");
      window.history.replaceState(null, "", url);
      document.querySelectorAll('input[name="sort"]').forEach((input) => {
        input.value = url.searchParams.get("sort");
      });
      // The header links now point at the next click's order, as the server would render them.
      th.parentElement.querySelectorAll("th").forEach((head) => {
        const a = head.querySelector("a");
        if (!a) return;
        const next = new URL(a.href, window.location.href);
        const ascendingNow = head.getAttribute("aria-sort") === "ascending";
        next.searchParams.set("sort", (head === th && ascendingNow ? "-" : "") + head.dataset.sortKey);
        a.href = next.pathname + next.search;
      });
    });
  }

  function enhanceFilter(input) {
    const table = document.getElementById(input.dataset.filterTable);
    if (!table) return;
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      Array.from(table.tBodies[0].rows).forEach((row) => {
        const hit = !needle || row.cells[0].textContent.toLowerCase().includes(needle);
        row.classList.toggle("is-filtered-out", !hit);
      });
    });
  }

  document.querySelectorAll("table[data-sortable]").forEach(enhanceSort);
  document.querySelectorAll("input[data-filter-table]").forEach(enhanceFilter);
})();
