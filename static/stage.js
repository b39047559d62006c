// The stage (the hall's big screen) and the moderator's control of it.
// - A box marked data-fit scales its text down (the --fit variable, from 1) until it fits,
//   so a question or an option is shown whole up to its length limit; a list marked
//   data-fill hides the items that do not fit (a board shows its top notes, as many as fit).
//   Both run again after every redraw and when the window changes size.
// - F toggles full screen on the stage.
// - In the control: copy the stage's link, and a <dialog> that asks before a new link is made.
(function () {
  "use strict";
  var STEP = 0.94;   // each try shrinks the text by 6 %: about 20 tries from 1 to the floor
  var FLOOR = 0.3;   // the CSS keeps every size above its own minimum anyway

  function overflows(box) {
    return box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1;
  }

  function fit(box) {
    var scale = 1;
    box.style.setProperty("--fit", "1");
    while (overflows(box) && scale > FLOOR) {
      scale *= STEP;
      box.style.setProperty("--fit", scale.toFixed(3));
    }
  }

  // Notes flow down the list's columns; those that fall outside it (to the right, or below)
  // do not fit. The top notes, in order, with no gaps: from the first that does not fit on.
  // Few notes spread evenly over the columns; more than fit fill each column in turn.
  function firstOutside(list) {
    var box = list.getBoundingClientRect();
    for (var j = 0; j < list.children.length; j++) {
      var r = list.children[j].getBoundingClientRect();
      if (r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5) { return j; }
    }
    return -1;
  }

  function fill(list) {
    var items = list.children;
    for (var i = 0; i < items.length; i++) { items[i].classList.remove("stage-overflow"); }
    list.classList.remove("stage-packed");
    if (firstOutside(list) < 0) { return; }
    list.classList.add("stage-packed");
    var cut = firstOutside(list);
    if (cut >= 0) {
      for (var k = cut; k < items.length; k++) { items[k].classList.add("stage-overflow"); }
    }
  }

  function layout() {
    if (!document.body.classList.contains("stage-page")) { return; }
    var boxes = document.querySelectorAll("[data-fit]");
    for (var i = 0; i < boxes.length; i++) { fit(boxes[i]); }
    var lists = document.querySelectorAll("[data-fill]");
    for (var j = 0; j < lists.length; j++) { fill(lists[j]); }
  }

  var pending = 0;
  function soon() {
    if (pending) { return; }
    pending = window.requestAnimationFrame(function () { pending = 0; layout(); });
  }

  // A redraw morphs the open dialog: it stays open (idiomorph would drop its `open`).
  if (window.Idiomorph) {
    var before = Idiomorph.defaults.callbacks.beforeAttributeUpdated;
    Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, node, how) {
      if (name === "open" && how === "remove" && node.tagName === "DIALOG" && node.closest(".stage-control")) {
        return false;
      }
      return before ? before(name, node, how) : true;
    };
  }

  document.addEventListener("DOMContentLoaded", layout);
  window.addEventListener("load", layout);
  window.addEventListener("resize", soon);
  document.addEventListener("htmx:wsAfterMessage", soon);
  document.addEventListener("htmx:afterSettle", soon);
  if (document.fonts && document.fonts.ready) { document.fonts.ready.then(layout); }
  layout();

  document.addEventListener("keydown", function (e) {
    if (!document.body.classList.contains("stage-page")) { return; }
    if ((e.key !== "f" && e.key !== "F") || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (document.fullscreenElement) { document.exitFullscreen(); }
    else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(function () {});
    }
  });

  // -- the control ------------------------------------------------------------------------
  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    var copy = target && target.closest("[data-stage-copy]");
    if (copy) { copyLink(copy); return; }
    var opener = target && target.closest("[data-stage-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-stage-dialog"));
      if (dialog && !dialog.open) { dialog.showModal(); }
    }
  });
  // The confirmed form is sent over the socket; the dialog closes with it.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form && form.hasAttribute && form.hasAttribute("data-closes-dialog")) {
      var dialog = form.closest("dialog");
      if (dialog) { setTimeout(function () { dialog.close(); }, 0); }
    }
  });

  function copyLink(button) {
    var status = button.closest(".stage-control").querySelector(".stage-copied");
    function say(text) { if (status) { status.textContent = text; } }
    fetch(button.getAttribute("data-stage-copy"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (body) {
        var url = body.stage_url;
        return navigator.clipboard.writeText(url).then(
          function () { say(button.getAttribute("data-copied") + ": " + url); },
          function () { say(url); }
        );
      })
      .catch(function () { say(button.getAttribute("data-failed")); });
  }
})();
