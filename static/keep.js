// Keeps what a person is writing or has chosen in a form when the server redraws the panel
// around it (a new board appears, a dot vote opens): before the new panel is swapped in,
// the values of the old form's fields (form[data-keep]) are carried into the new one, by
// field id. Once the form has been sent, only its fields marked data-keep-sent are carried:
// the board chosen stays chosen, the note just sent is not written again.
(function () {
  "use strict";
  var SENT = "keepSent";

  function carry(from, to) {
    if (to.tagName === "SELECT") {
      for (var i = 0; i < to.options.length; i++) {
        to.options[i].defaultSelected = to.options[i].value === from.value;
      }
    } else if (from.type === "checkbox" || from.type === "radio") {
      to.defaultChecked = from.checked;
    } else if (to.tagName === "TEXTAREA") {
      to.defaultValue = from.value;
    } else {
      to.setAttribute("value", from.value);
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-keep]")) { form.dataset[SENT] = "1"; }
  }, true);

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var old = event.detail.target;
    var fresh = event.detail.fragment;
    if (!old || !fresh || !old.querySelectorAll || !fresh.querySelector) { return; }
    var forms = old.querySelectorAll("form[data-keep]");
    for (var f = 0; f < forms.length; f++) {
      var sent = forms[f].dataset[SENT] === "1";
      var fields = forms[f].querySelectorAll("input[id], select[id], textarea[id]");
      for (var i = 0; i < fields.length; i++) {
        var field = fields[i];
        if (field.type === "hidden" || (sent && !field.hasAttribute("data-keep-sent"))) { continue; }
        var twin = fresh.querySelector("#" + CSS.escape(field.id));
        if (twin && twin.tagName === field.tagName) { carry(field, twin); }
      }
    }
  });
})();
