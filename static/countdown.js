// Counts down to the ISO time in data-countdown-to, corrected by the server's clock in
// data-server-now; warns in the last minute. Without it the end time still shows.
(function () {
  "use strict";
  var WARN_MS = 60 * 1000;
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var nodes = document.querySelectorAll("[data-countdown-to]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var end = Date.parse(el.getAttribute("data-countdown-to"));
      if (isNaN(end)) { continue; }
      if (el.dataset.skew === undefined) {
        var server = Date.parse(el.getAttribute("data-server-now") || "");
        el.dataset.skew = isNaN(server) ? "0" : String(server - Date.now());
      }
      var left = end - (Date.now() + Number(el.dataset.skew));
      var secs = Math.max(0, Math.ceil(left / 1000));
      var text = Math.floor(secs / 60) + ":" + pad(secs % 60);
      var time = el.querySelector(".countdown-time");
      if (time && time.textContent !== text) { time.textContent = text; }
      var warning = el.querySelector(".countdown-warning");
      var over = el.querySelector(".countdown-over");
      var ending = left > 0 && left <= WARN_MS;
      el.classList.toggle("ending", ending);
      el.classList.toggle("over", left <= 0);
      if (warning) { warning.hidden = !ending; }
      if (over) { over.hidden = left > 0; }
    }
  }
  tick();
  setInterval(tick, 500);
  // A redrawn timer shows its time left at once, not the end time it was drawn with.
  document.addEventListener("htmx:wsAfterMessage", tick);
})();
