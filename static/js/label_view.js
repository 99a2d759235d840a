// The labeling page (#labeler), what the worker sees and presses: an item's data as DOM nodes,
// the list of the page's keys, the keys themselves, and the Undo button's offer. label.js drives
// the page with these (window.QuorumLabel); the template loads this file before it.
//
// Item data is untrusted: it is put on the page with createElement/textContent only, never
// innerHTML, and a picture is shown only from an http(s) URL (anything else is shown as text).
"use strict";

(() => {
  const TEXT_KEYS = ["text"];
  const IMAGE_KEYS = ["image", "image_url"];

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function httpUrl(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value.trim());
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function asText(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  // The item's data as DOM nodes: its text, an http(s) picture, the other fields as a table.
  function itemNodes(data) {
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      return [el("p", { class: "item-text", text: asText(data) })];
    }
    const nodes = [];
    const textKey = TEXT_KEYS.find((k) => typeof data[k] === "string");
    if (textKey) nodes.push(el("p", { class: "item-text", text: data[textKey] }));
    const imageKey = IMAGE_KEYS.find((k) => typeof data[k] === "string");
    const src = imageKey ? httpUrl(data[imageKey]) : null;
    if (src) {
      nodes.push(el("img", { class: "item-image", src, alt: "The item's picture", referrerpolicy: "no-referrer" }));
    }
    const rows = Object.entries(data)
      .filter(([key]) => key !== textKey && !(key === imageKey && src))
      .map(([key, value]) => el("tr", {}, [el("th", { scope: "row", text: key }), el("td", { text: asText(value) })]));
    if (rows.length) nodes.push(el("table", { class: "item-fields" }, [el("tbody", {}, rows)]));
    return nodes;
  }

  function summary(data) {
    if (data && typeof data === "object" && typeof data.text === "string") return data.text.slice(0, 140);
    return "";
  }

  // A job that shows pre-labels sends the model's label key as `suggestion`: a hint and a
  // marked button, never a choice made for the worker (their key still decides).
  function suggestionNodes(key) {
    for (const button of document.querySelectorAll("#labeler .choice")) {
      button.classList.toggle("suggested", key !== undefined && button.dataset.label === key);
    }
    if (key === undefined || key === null) return [];
    const button = Array.from(document.querySelectorAll("#labeler .choice")).find((b) => b.dataset.label === key);
    const nameNode = button && button.querySelector(".choice-name");
    const name = nameNode ? nameNode.textContent.trim() : key;
    return [el("p", { class: "suggestion small muted", "data-suggestion": key, text: `Model suggests: ${name}` })];
  }

  // The list of the page's keys ("?"), closed by Esc or its button; focus returns where it was.
  function keysList() {
    const overlay = document.getElementById("shortcuts");
    let focusBefore = null;
    const list = {
      isOpen: () => Boolean(overlay && !overlay.hidden),
      open() {
        if (!overlay || !overlay.hidden) return;
        focusBefore = document.activeElement;
        overlay.hidden = false;
        document.getElementById("keys-close").focus();
      },
      close() {
        if (!overlay || overlay.hidden) return;
        overlay.hidden = true;
        if (focusBefore instanceof HTMLElement) focusBefore.focus();
      },
    };
    if (overlay) {
      document.getElementById("keys-open").addEventListener("click", () => list.open());
      document.getElementById("keys-close").addEventListener("click", () => list.close());
      overlay.addEventListener("click", (event) => { if (event.target === overlay) list.close(); });
    }
    return list;
  }

  // The page's keys: a label's key answers (ticks it on a multi-label job, where Enter sends the
  // set), Esc skips, Ctrl+Z or "u" undoes, "?" lists the keys. `on` holds the page's actions;
  // `hotkeys` maps a lower-cased key to its label button.
  function bindKeys({ multi, hotkeys, keys, on }) {
    document.addEventListener("keydown", (event) => {
      if (event.repeat) return;
      const target = event.target;
      if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]")) return;
      const key = event.key.toLowerCase();
      if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && key === "z") {
        event.preventDefault();
        on.undo();
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (keys.isOpen()) {
        if (event.key === "Escape") {
          event.preventDefault();
          keys.close();
        }
        return; // while the list is open, keys do not answer
      }
      if (event.key === "?") {
        event.preventDefault();
        keys.open();
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        on.skip();
        return;
      }
      if (multi && event.key === "Enter") {
        event.preventDefault(); // not also a click of the focused button
        on.choose(on.ticked(), performance.now());
        return;
      }
      const button = hotkeys.get(key);
      if (button && multi) {
        event.preventDefault();
        on.toggle(button);
      } else if (button) {
        event.preventDefault();
        on.choose(button.dataset.label, performance.now());
      } else if (key === "u") {
        event.preventDefault();
        on.undo();
      }
    });
  }

  // The Undo button of the last answer, offered for `seconds` after it is sent (the server checks
  // the window and the rest). `offer(judgment)`: a Promise of the answer's id once the server has
  // stored it, or of null when it was not stored or the reply said it cannot be undone (its item
  // is complete: labeling/undoing.py); null takes the button away at once, before any click.
  function undoOffer(button, seconds) {
    let last = null; // {judgment: Promise<number|null>, timer}
    const undos = {
      get last() { return last; },
      offer(judgment) {
        if (last) window.clearTimeout(last.timer);
        last = null;
        if (!seconds || !button) return;
        const offered = { judgment, timer: window.setTimeout(() => undos.end(), seconds * 1000) };
        last = offered;
        button.hidden = false;
        button.disabled = false;
        judgment.then((id) => { if (id === null && last === offered) undos.end(); });
      },
      end() {
        if (last) window.clearTimeout(last.timer);
        last = null;
        if (button) button.hidden = true;
      },
    };
    return undos;
  }

  window.QuorumLabel = Object.assign(window.QuorumLabel || {}, {
    el, itemNodes, suggestionNodes, summary, keysList, bindKeys, undoOffer,
  });
})();
