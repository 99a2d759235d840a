// Print buttons: <button data-print>. A listener, not an inline onclick: the Content-Security-Policy
// allows scripts from this site only.
"use strict";

document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
