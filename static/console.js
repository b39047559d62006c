// The moderator's console: one section at a time (the URL's hash, so it survives a redraw and
// a reload), confirmations for what cannot be undone, and the help toasts.
//
// - Sections are plain links (#sec-polls …); this shows the chosen one, marks its link
//   aria-current and moves the focus to its heading. Without this script every section shows.
// - A form with data-confirm (or data-confirm-from: an element whose data-close-text says
//   it) is sent only after the <dialog> is confirmed; Cancel, Escape or a click outside
//   sends nothing. A remove link (data-remove) opens the removal dialog, which posts.
// - What the page owns and a redraw must not take back: a folded part someone opened
//   (<details open>), the current link, a dismissed toast.
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root) { return; }
  var SECTIONS = ["stage", "polls", "rooms", "boards", "qa", "people"];
  var dismissed = {};

  function chosen() {
    var name = (location.hash || "").replace(/^#sec-/, "");
    return SECTIONS.indexOf(name) >= 0 ? name : null;
  }

  function mark() {
    var name = root.getAttribute("data-section");
    var links = document.querySelectorAll(".console-nav a[data-section]");
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute("data-section") === name) { links[i].setAttribute("aria-current", "page"); }
      else { links[i].removeAttribute("aria-current"); }
    }
    var toasts = document.querySelectorAll(".toast[data-toast]");
    for (var j = 0; j < toasts.length; j++) {
      toasts[j].hidden = !!dismissed[toasts[j].getAttribute("data-toast")];
    }
  }

  function show(name, focus) {
    if (SECTIONS.indexOf(name) < 0) { return; }
    root.setAttribute("data-section", name);
    root.classList.add("one-section");
    if (location.hash !== "#sec-" + name) { history.replaceState(null, "", "#sec-" + name); }
    var main = document.getElementById("console-main");
    if (main) { main.scrollTop = 0; }
    mark();
    if (focus) {
      var heading = document.getElementById("sec-" + name + "-title");
      if (heading) { heading.focus({ preventScroll: true }); }
    }
  }

  show(chosen() || "polls", false);
  window.addEventListener("hashchange", function () {
    var name = chosen();
    if (name) { show(name, true); }
  });

  // A redraw keeps what the page owns: the open folds, the current link, the toasts put away.
  if (window.Idiomorph) {
    var before = Idiomorph.defaults.callbacks.beforeAttributeUpdated;
    Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, node, how) {
      if (name === "open" && node.tagName === "DETAILS") { return false; }
      if (name === "aria-current" && node.closest && node.closest(".console-nav")) { return false; }
      if (name === "hidden" && node.classList && node.classList.contains("toast")) { return false; }
      return before ? before(name, node, how) : true;
    };
  }
  document.addEventListener("htmx:wsAfterMessage", mark);

  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest("a[href^='#sec-']") : null;
    if (link) {
      e.preventDefault();
      show(link.getAttribute("href").replace("#sec-", ""), !link.hasAttribute("data-room-link"));
      var room = link.getAttribute("data-room-link");
      var card = room ? document.getElementById("room-" + room) : null;
      if (card) {
        card.scrollIntoView({ block: "center" });
        var button = card.querySelector(".help-call button");
        (button || card).focus({ preventScroll: true });
      }
      return;
    }
    var jump = e.target.closest ? e.target.closest("a[data-focus]") : null;
    if (jump) {
      var field = document.getElementById(jump.getAttribute("data-focus"));
      if (field) { e.preventDefault(); field.scrollIntoView({ block: "center" }); field.focus({ preventScroll: true }); }
      return;
    }
    var later = e.target.closest ? e.target.closest(".toast [data-dismiss]") : null;
    if (later) {
      var toast = later.closest(".toast");
      dismissed[toast.getAttribute("data-toast")] = true;
      toast.hidden = true;
      return;
    }
    var remove = e.target.closest ? e.target.closest("a[data-remove]") : null;
    if (remove) {
      var dialog = document.getElementById("remove");
      if (!dialog || !dialog.showModal) { return; }  // the confirmation page instead
      e.preventDefault();
      document.getElementById("remove-text").textContent = remove.getAttribute("data-remove");
      document.getElementById("remove-form").setAttribute("action", remove.getAttribute("href"));
      document.getElementById("remove-content").checked = false;
      dialog.showModal();
      return;
    }
    var close = e.target.closest ? e.target.closest("dialog [data-close]") : null;
    if (close) { close.closest("dialog").close(); }
  });

  // Confirmations: the form is held back (before htmx sees it) until the dialog says yes.
  var confirmDialog = document.getElementById("confirm");
  var waiting = null;
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-confirm], form[data-confirm-from]")) { return; }
    if (form.confirmed) { form.confirmed = false; return; }
    if (!confirmDialog || !confirmDialog.showModal) { return; }
    e.preventDefault();
    e.stopImmediatePropagation();
    var text = form.getAttribute("data-confirm");
    var from = form.getAttribute("data-confirm-from");
    var source = from ? document.querySelector(from) : null;
    if (source) { text = source.getAttribute("data-close-text"); }
    document.getElementById("confirm-text").textContent = text || "";
    var yes = document.getElementById("confirm-yes");
    yes.textContent = form.getAttribute("data-confirm-yes") || yes.textContent;
    waiting = form;
    confirmDialog.returnValue = "";
    confirmDialog.showModal();
  }, true);
  if (confirmDialog) {
    confirmDialog.addEventListener("close", function () {
      var form = waiting;
      waiting = null;
      if (form && confirmDialog.returnValue === "yes" && form.isConnected) {
        form.confirmed = true;
        form.requestSubmit();
      }
    });
  }
  // A click on the dimmed page around a dialog is a cancel.
  document.addEventListener("click", function (e) {
    if (e.target.tagName === "DIALOG" && e.target.open) {
      var box = e.target.getBoundingClientRect();
      var inside = e.clientX >= box.left && e.clientX <= box.right && e.clientY >= box.top && e.clientY <= box.bottom;
      if (!inside) { e.target.close(); }
    }
  });
})();
