// The organiser's pages: a link that asks before deleting opens its <dialog> in place (where
// a browser has no <dialog>, the link's own page asks instead).
"use strict";
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-dialog]");
  if (!link) { return; }
  const dialog = document.getElementById(link.dataset.dialog);
  if (!dialog || !dialog.showModal) { return; }
  event.preventDefault();
  dialog.showModal();
});
