// Focus stays on the control a person used, through every live redraw.
//
// Idiomorph keeps an element with an id. A note's buttons have none (a note is drawn in two
// lists, newest and top, so an id would not be unique): when a note arrives above the one a
// person is on, the morph reuses their button for its neighbour, and the focus would move
// to another note. So before each message the focused control is named by what it does
// (its form's action, its name, its place) inside what it belongs to (a note, a poll's card,
// a room, or the nearest element with an id). Afterwards, if the focus has left that owner,
// it is put back on the visible one, without scrolling. A control that changed its meaning
// in place (Open became Close) keeps the focus: one more press undoes what it did.
(function () {
  "use strict";
  var OWNERS = ["data-note", "data-poll", "data-room-id", "aria-labelledby", "id"];

  function ownerOf(el) {
    for (var node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      for (var i = 0; i < OWNERS.length; i++) {
        var value = node.getAttribute(OWNERS[i]);
        if (value) { return { attr: OWNERS[i], value: value }; }
      }
    }
    return null;
  }

  function actionOf(el) {
    var kind = el.form ? el.form.querySelector("input[type=hidden][name=type]") : null;
    return kind ? kind.value : "";
  }

  function describe(el) {
    if (!el || el === document.body || el === document.documentElement) { return null; }
    if (el.id) { return { id: el.id }; }
    var owner = ownerOf(el);
    if (!owner) { return null; }
    var node = ownerNode(owner);
    var place = node ? Array.prototype.indexOf.call(node.getElementsByTagName(el.tagName), el) : -1;
    return { owner: owner, tag: el.tagName, name: el.getAttribute("name") || "", action: actionOf(el), place: place };
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function visible(el) { return el.getClientRects().length > 0; }

  // The owner as drawn now: a note is drawn in two lists, one of them hidden.
  function ownerNode(owner) {
    var nodes = document.querySelectorAll("[" + owner.attr + "]");
    var fallback = null;
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute(owner.attr) !== owner.value) { continue; }
      if (visible(nodes[i])) { return nodes[i]; }
      fallback = fallback || nodes[i];
    }
    return fallback;
  }

  function find(used) {
    if (used.id) { return document.getElementById(used.id); }
    var node = ownerNode(used.owner);
    if (!node) { return null; }
    var candidates = node.getElementsByTagName(used.tag);
    for (var i = 0; i < candidates.length; i++) {
      var seen = describe(candidates[i]);
      if (seen && seen.action === used.action && seen.name === used.name) { return candidates[i]; }
    }
    return candidates[used.place] || null;
  }

  var used = null;
  document.addEventListener("htmx:wsBeforeMessage", function () {
    used = describe(document.activeElement);
  });
  document.addEventListener("htmx:wsAfterMessage", function () {
    var now = describe(document.activeElement);
    if (!used || same(now, used)) { return; }
    if (now && used.owner && now.owner && same(now.owner, used.owner)) { return; }
    var back = find(used);
    if (back && back !== document.activeElement) { back.focus({ preventScroll: true }); }
  });
})();
