// The participant's phone: what HTML alone cannot keep calm.
//
// - A fold (<details>) stays as the person left it through every redraw: the server draws
//   it folded or open, the person's own choice wins.
// - The moderator's message (.announcement) can be dismissed, and goes by itself once it is
//   no longer news (data-until); a dismissed one stays away through redraws and reloads.
// - A fold's count is read from the panel inside it (data-count-of -> data-count).
// - Moving between the plenary and a room folds or unfolds the questions to the panel.
(function () {
  "use strict";
  var KEY = "samla.dismissed";

  function dismissed() {
    try { return (sessionStorage.getItem(KEY) || "").split(" "); } catch (e) { return []; }
  }
  function remember(id) {
    var ids = dismissed().filter(function (x) { return x && x !== id; }).slice(-20);
    ids.push(id);
    try { sessionStorage.setItem(KEY, ids.join(" ")); } catch (e) { /* private mode */ }
  }
  function putAway(el) {
    el.setAttribute("data-dismissed", "");
    el.hidden = true;
  }

  if (window.Idiomorph) {
    var callbacks = window.Idiomorph.defaults.callbacks;
    var before = callbacks.beforeAttributeUpdated;
    callbacks.beforeAttributeUpdated = function (name, node, kind) {
      if (name === "open" && node.tagName === "DETAILS") { return false; }
      if (name === "hidden" && node.hasAttribute && node.hasAttribute("data-dismissed")) { return false; }
      return before ? before(name, node, kind) : true;
    };
  }

  function skew(el) {
    if (el.dataset.skew === undefined) {
      var server = Date.parse(el.getAttribute("data-server-now") || "");
      el.dataset.skew = isNaN(server) ? "0" : String(server - Date.now());
    }
    return Number(el.dataset.skew);
  }

  function tidy() {
    var gone = dismissed();
    var shown = document.querySelectorAll(".announcement:not([data-dismissed])");
    for (var i = 0; i < shown.length; i++) {
      var el = shown[i];
      var until = Date.parse(el.getAttribute("data-until") || "");
      var stale = !isNaN(until) && Date.now() + skew(el) >= until;
      if (stale || gone.indexOf(el.getAttribute("data-broadcast")) >= 0) { putAway(el); }
    }
    var counts = document.querySelectorAll("[data-count-of]");
    for (var j = 0; j < counts.length; j++) {
      var of = document.getElementById(counts[j].getAttribute("data-count-of"));
      var n = of ? of.getAttribute("data-count") : null;
      var text = n === null ? "" : "(" + n + ")";
      if (counts[j].textContent !== text) { counts[j].textContent = text; }
    }
    var breakout = document.getElementById("breakout");
    var qa = document.getElementById("qa");
    if (breakout && qa) {
      var place = breakout.getAttribute("data-place");
      if (qa.dataset.place && qa.dataset.place !== place) { qa.open = place !== "room"; }
      qa.dataset.place = place;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-dismiss]") : null;
    var box = button ? button.closest(".announcement") : null;
    if (!box) { return; }
    remember(box.getAttribute("data-broadcast") || "");
    putAway(box);
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", tidy); } else { tidy(); }
  document.addEventListener("htmx:wsAfterMessage", tidy);
  setInterval(tidy, 5000);
})();
