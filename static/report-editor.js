// The report editor's draft saves itself: after typing stops, the form is posted with the
// version it was based on; a refusal (someone else saved meanwhile) shows its message and
// leaves every field as typed. Without script, the Save button does the same.
(function () {
  "use strict";
  var QUIET_MS = 1500; // typing pauses shorter than this are one edit, not one save each

  function start() {
    var form = document.getElementById("report-form");
    var copy = document.querySelector("[data-copy]");
    if (copy) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        var field = document.getElementById(copy.getAttribute("data-copy"));
        if (field && navigator.clipboard) { navigator.clipboard.writeText(field.value); }
      });
    }
    if (!form || !form.hasAttribute("data-autosave")) { return; }
    var status = document.getElementById("re-status");
    var version = document.getElementById("re-version");
    var timer = null;
    var saving = false;
    var again = false;
    var stale = false;
    // A button pressed while a save was on its way is pressed again once it is done.
    var resubmit = false;
    var held = null;
    // What is typed but not yet saved (a pause not yet over, a save on its way or refused):
    // leaving the page then asks first, so nothing typed is lost unseen.
    var edits = 0;
    var saved = 0;
    var submitting = false;

    function say(text, isError) {
      status.textContent = text;
      status.classList.toggle("is-error", Boolean(isError));
    }

    function save() {
      timer = null;
      if (stale) { return; }
      if (saving) { again = true; return; }
      saving = true;
      var sent = edits;
      var body = new FormData(form);
      body.set("op", "save");
      say(form.getAttribute("data-saving") || "…");
      fetch(form.action || window.location.pathname, {
        method: "POST",
        body: new URLSearchParams(body),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (r) {
        return r.json().then(function (answer) { return { ok: r.ok, status: r.status, answer: answer }; });
      }).then(function (got) {
        if (got.ok) {
          version.value = String(got.answer.version);
          saved = sent;
          say(form.getAttribute("data-saved") || "✓");
        } else {
          if (got.status === 409) { stale = true; }
          say(got.answer.error ? got.answer.error.message : String(got.status), true);
        }
      }).catch(function () {
        say(form.getAttribute("data-offline") || "!", true);
      }).then(function () {
        saving = false;
        if (resubmit) {
          var button = held;
          resubmit = false;
          held = null;
          if (button) { form.requestSubmit(button); } else { form.requestSubmit(); }
        } else if (again) { again = false; save(); }
      });
    }

    form.addEventListener("input", function () {
      edits += 1;
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(save, QUIET_MS);
    });
    form.addEventListener("submit", function (event) {
      if (timer) { clearTimeout(timer); timer = null; }
      if (saving) {
        // Its version is about to rise: posting now would be refused as stale.
        event.preventDefault();
        resubmit = true;
        held = event.submitter || null;
        again = false;
        return;
      }
      submitting = true; // the form's post carries everything typed
    });
    window.addEventListener("beforeunload", function (event) {
      if (submitting || edits === saved) { return; }
      event.preventDefault();
      event.returnValue = "";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
