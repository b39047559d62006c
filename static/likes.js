// Marks the like buttons of the notes this person has upvoted. The boards are rendered
// once for everyone in a room; the list of one's own upvotes comes apart (#my-likes), and
// each button is marked from it whenever either is drawn anew.
(function () {
  "use strict";
  function mark() {
    var list = document.getElementById("my-likes");
    var mine = {};
    if (list) {
      (list.getAttribute("data-notes") || "").split(" ").forEach(function (id) {
        if (id) { mine[id] = true; }
      });
    }
    var forms = document.querySelectorAll("form.like");
    for (var i = 0; i < forms.length; i++) {
      var note = forms[i].querySelector("input[name=note]");
      var button = forms[i].querySelector("button");
      if (note && button) {
        button.setAttribute("aria-pressed", mine[note.value] ? "true" : "false");
      }
    }
  }
  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("htmx:oobAfterSwap", mark);
  document.addEventListener("htmx:afterSettle", mark);
  document.addEventListener("htmx:wsAfterMessage", mark);
})();
