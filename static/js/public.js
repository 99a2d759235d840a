// Public and account pages. Progressive enhancement only: every form works without this file.
"use strict";

// Sign-up: the organization field matters only to clients; hide it while "worker" is chosen.
function wireSignup(form) {
  const field = form.querySelector("#organization-field");
  if (!field) return;
  const sync = () => {
    const checked = form.querySelector('input[name="role"]:checked');
    field.hidden = checked !== null && checked.value !== "client";
  };
  form.addEventListener("change", sync);
  sync();
}

// Copy buttons: data-copy="<selector of the element whose text to copy>".
async function copyText(button) {
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (insecure context): select the text so Ctrl+C works.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = "Press Ctrl+C";
    return;
  }
  button.textContent = "Copied ✓";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-signup]").forEach(wireSignup);
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", () => copyText(button));
  });
  // Destructive forms ask first (the message is text, shown by confirm(), never as HTML).
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
