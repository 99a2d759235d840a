// The create-job wizard, progressively enhanced. Every step works without this file; it adds
// label rows, key and shortcut suggestions (as placeholders), a live instructions preview (server-rendered and
// sanitized: the HTML comes from jobs.markdown), a check of the chosen file, and tier highlights.
"use strict";

(() => {
  const form = document.getElementById("details-form");
  if (form) {
    labels(form);
    preview(form);
  }
  uploads();
  tiers();

  function labels(form) {
    const body = document.getElementById("label-rows");
    const add = document.getElementById("add-label");
    if (!body || !add) return;
    const max = Number(add.dataset.max || 50);
    add.hidden = false;

    const rows = () => Array.from(body.querySelectorAll("tr.label-row"));
    const input = (row, part) => row.querySelector(`input[name$="-${part}"]`);
    const keyOf = (name) => name.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^[-._]+|[-._]+$/g, "").slice(0, 64);

    // What the server derives for a key or shortcut left empty (forms.labels_payload), shown as
    // the empty box's placeholder: never written into the box, so the form sends only what the
    // person typed, and a renamed label gets a new key and shortcut, after an error too.
    const FREE = "123456789abcdefghijklmnopqrstuvwxyz".replace("u", ""); // u and ? are the labeling page's
    function suggest() {
      const all = rows();
      const taken = new Set(all.map((r) => input(r, "shortcut").value.trim().toLowerCase()).filter(Boolean));
      for (const row of all) {
        const name = input(row, "name").value.trim(), key = input(row, "key"), shortcut = input(row, "shortcut");
        const derived = key.value.trim() || keyOf(name);
        key.placeholder = name ? derived || "from the name" : "from the name";
        if (shortcut.value.trim() || !(name || key.value.trim())) {
          shortcut.placeholder = "";
          continue;
        }
        const own = (name || derived).toLowerCase().replace(/[^a-z0-9]/g, "");
        const pick = (own + FREE).split("").find((c) => FREE.includes(c) && !taken.has(c)) || "";
        taken.add(pick);
        shortcut.placeholder = pick;
      }
    }
    function renumber() {
      rows().forEach((row, i) => {
        const n = i + 1;
        for (const part of ["name", "key", "shortcut"]) {
          const label = row.querySelector(`label[for="${input(row, part).id}"]`);
          if (label) label.textContent = `Label ${n} ${part}`;
        }
        const remove = row.querySelector(".remove-label");
        remove.setAttribute("aria-label", `Remove label ${n}`);
        remove.hidden = rows().length <= 2;
      });
      add.disabled = rows().length >= max;
    }
    function wire(row) {
      for (const part of ["name", "key", "shortcut"]) input(row, part).addEventListener("input", suggest);
      row.querySelector(".remove-label").addEventListener("click", () => {
        row.remove();
        renumber();
        suggest();
        const first = rows()[0];
        if (first) input(first, "name").focus();
      });
    }
    rows().forEach(wire);
    renumber();
    suggest();

    add.addEventListener("click", () => {
      const last = rows()[rows().length - 1];
      const next = Math.max(...rows().map((r) => Number(r.dataset.index))) + 1;
      const row = last.cloneNode(true);
      row.dataset.index = String(next);
      for (const part of ["name", "key", "shortcut"]) {
        const field = input(row, part);
        const label = row.querySelector(`label[for="${field.id}"]`);
        field.id = field.name = `label-${next}-${part}`;
        field.value = "";
        if (label) label.htmlFor = field.id;
      }
      body.appendChild(row);
      wire(row);
      renumber();
      suggest();
      input(row, "name").focus();
    });
  }

  function preview(form) {
    const textarea = form.querySelector("textarea[name=instructions]");
    const target = document.getElementById("instructions-preview");
    const url = form.dataset.previewUrl;
    if (!textarea || !target || !url) return;
    const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    let timer = 0, seq = 0;
    textarea.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const mine = ++seq;
        target.classList.add("loading");
        const body = new FormData();
        body.append("instructions", textarea.value);
        try {
          const response = await fetch(url, { method: "POST", body, headers: { "X-CSRFToken": csrf }, credentials: "same-origin" });
          if (response.ok && mine === seq) target.innerHTML = await response.text(); // sanitized by the server (nh3)
        } catch (_) { /* offline: keep the last preview */ }
        if (mine === seq) target.classList.remove("loading");
      }, 250);
    });
  }

  function uploads() {
    for (const file of document.querySelectorAll(".upload-form input[type=file]")) {
      const hint = document.createElement("p");
      hint.className = "file-hint";
      hint.setAttribute("aria-live", "polite");
      file.insertAdjacentElement("afterend", hint);
      const format = file.form.querySelector("select[name=format]");
      file.addEventListener("change", () => {
        const chosen = file.files && file.files[0];
        if (!chosen) { hint.textContent = ""; return; }
        const ext = (chosen.name.split(".").pop() || "").toLowerCase();
        const known = ["csv", "json", "jsonl", "ndjson"].includes(ext);
        const size = chosen.size > 1048576 ? `${(chosen.size / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(chosen.size / 1024))} KB`;
        hint.classList.toggle("bad", !known && format && format.value === "auto");
        hint.textContent = known || (format && format.value !== "auto")
          ? `${chosen.name} · ${size}`
          : `${chosen.name}: choose its format below (the name does not end in .csv, .json or .jsonl).`;
      });
    }
  }

  function tiers() {
    const cards = document.querySelectorAll(".tier-card");
    for (const card of cards) {
      card.querySelector("input[type=radio]").addEventListener("change", () => {
        cards.forEach((c) => c.classList.toggle("chosen", c.querySelector("input").checked));
      });
    }
  }
})();
