// The organiser's registrations page: a row's Delete asks in the page's <dialog> first (the
// row's form posts without JavaScript, and the page comes back with the question open), and
// a personal link's Copy button copies it.
(function () {
  "use strict";

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-delete]")) { return; }
    var dialog = document.getElementById("reg-delete");
    if (!dialog || !dialog.showModal) { return; }
    e.preventDefault();
    document.getElementById("reg-delete-text").textContent = form.getAttribute("data-delete");
    document.getElementById("reg-delete-id").value = form.elements.registration_id.value;
    if (dialog.open) { dialog.close(); }
    dialog.showModal();
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("button[data-copy]") : null;
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    var done = function () {
      button.textContent = button.getAttribute("data-copied");
      var status = document.getElementById("copy-status");
      if (status) { status.textContent = button.getAttribute("data-copied"); }
    };
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {});
    } else {
      try { if (document.execCommand("copy")) { done(); } } catch (err) { /* selected: copy by hand */ }
    }
  });
})();
