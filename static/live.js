// The live page: panels arrive over the socket and are morphed into place (idiomorph), so
// nothing someone is typing is ever replaced.
//
// - A field someone has changed and not sent, or has the focus in, keeps its value through
//   every redraw (the rest of its form, new choices in a list, is redrawn around it). Once
//   its form is sent, the server's next drawing of it is taken (the note just written is not
//   written again), except for fields marked data-keep-sent (the board chosen stays chosen);
//   a refusal makes them unsent again. A form the server withdraws while someone has typed
//   in it stays (marked .withdrawn) until they send it.
// - The page knows the session version it shows (#live-version, kept current by every
//   message); a reopened socket says it (?v=), and a snapshot at that version redraws nothing.
// - A small status says when the connection is down and clears when it is back.
(function () {
  "use strict";
  if (!window.htmx || !window.Idiomorph) { return; }

  // Fields someone has changed since they last sent their form. Idiomorph morphs elements in
  // place, so the set keeps pointing at the same fields across redraws.
  var edited = new WeakSet();
  var FIELDS = "INPUT TEXTAREA SELECT";

  function isField(node) {
    return node.nodeType === 1 && FIELDS.indexOf(node.tagName) >= 0 && node.type !== "hidden";
  }

  // Fields sent as they stand: the server's next drawing replaces them, focused or not.
  var sent = new WeakSet();

  function touched(e) {
    var f = e.target;
    if (!isField(f)) { return; }
    // A radio button chosen unchooses its group: every button of the group is the person's.
    var group = f.type === "radio" && f.name ? (f.form || document).querySelectorAll(
      'input[type=radio][name="' + CSS.escape(f.name) + '"]') : [f];
    for (var i = 0; i < group.length; i++) { edited.add(group[i]); sent.delete(group[i]); }
  }
  document.addEventListener("input", touched, true);
  document.addEventListener("change", touched, true);

  // Gives the server's fresh drawing of a field the value the person has in it.
  function carry(old, fresh) {
    if (old.tagName === "SELECT") {
      var found = false;
      for (var i = 0; i < fresh.options.length; i++) {
        var on = false;
        for (var j = 0; j < old.options.length; j++) {
          if (old.options[j].selected && old.options[j].value === fresh.options[i].value) { on = true; }
        }
        if (on) { fresh.options[i].setAttribute("selected", ""); found = true; }
        else { fresh.options[i].removeAttribute("selected"); }
      }
      return found;  // the choice is gone from the new drawing: leave the field as it is
    }
    if (old.type === "checkbox" || old.type === "radio") {
      if (old.checked) { fresh.setAttribute("checked", ""); } else { fresh.removeAttribute("checked"); }
    } else if (old.tagName === "TEXTAREA") {
      fresh.value = old.value;
      fresh.textContent = old.value;
    } else {
      fresh.setAttribute("value", old.value);
    }
    return true;
  }

  Idiomorph.defaults.callbacks.beforeNodeMorphed = function (old, fresh) {
    if (!isField(old) || fresh.nodeType !== 1 || fresh.tagName !== old.tagName) { return true; }
    if (sent.has(old)) { sent.delete(old); return true; }
    if (!edited.has(old) && old !== document.activeElement) { return true; }
    return carry(old, fresh);
  };

  // A part of the page the server no longer draws (a form withdrawn because rooms opened, a
  // board closed) stays while it holds text someone typed and has not sent: they can still
  // copy it, or send it and be told why it is refused. Choices are cheap to make again.
  function typedText(f) {
    var text = f.tagName === "TEXTAREA" ||
      (f.tagName === "INPUT" && !/^(checkbox|radio|hidden|submit|button|range|color|file|image|reset)$/.test(f.type));
    return text && edited.has(f) && f.value.trim() !== "";
  }
  function holdsTyping(node) {
    if (node.nodeType !== 1) { return false; }
    if (isField(node)) { return typedText(node); }
    var inner = node.querySelectorAll("input, textarea");
    for (var i = 0; i < inner.length; i++) { if (typedText(inner[i])) { return true; } }
    return false;
  }
  Idiomorph.defaults.callbacks.beforeNodeRemoved = function (node) {
    if (!holdsTyping(node)) { return true; }
    node.classList.add("withdrawn");
    return false;
  };

  // Sending a form: its fields are no longer unsent, but for those marked data-keep-sent
  // (the board chosen stays chosen). If the server refuses it, they count as unsent again.
  var pending = null;
  document.addEventListener("htmx:wsConfigSend", function (event) {
    var form = event.target;
    if (!form || form.tagName !== "FORM") { return; }
    var gone = Array.prototype.filter.call(form.elements, function (f) {
      return (edited.has(f) || f === document.activeElement) && !f.hasAttribute("data-keep-sent");
    });
    gone.forEach(function (f) { edited.delete(f); sent.add(f); });
    pending = { fields: gone.map(function (f) { return { field: f, value: f.value }; }), at: Date.now() };
  });
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (pending && typeof message === "string" && message.indexOf("notice-error") >= 0
        && Date.now() - pending.at < 15000) {
      pending.fields.forEach(function (p) {
        var f = p.field;
        // A redraw may have come between the sending and the refusal: what was sent comes back.
        if (f.isConnected && f.value !== p.value && (f.value === "" || f.value === f.defaultValue)
            && f.type !== "checkbox" && f.type !== "radio") {
          f.value = p.value;
        }
        edited.add(f);
        sent.delete(f);
      });
      pending = null;
    }
  });

  // The version the page shows, told to the server whenever the socket (re)opens.
  function shownVersion() {
    var marker = document.getElementById("live-version");
    var v = marker ? marker.getAttribute("data-version") : null;
    return v && /^[0-9]+$/.test(v) ? v : null;
  }
  htmx.createWebSocket = function (url) {
    var v = shownVersion();
    if (v !== null) { url = url.replace(/([?&]v=)[0-9]*/, "$1" + v); }
    var socket = new WebSocket(url, []);
    socket.binaryType = htmx.config.wsBinaryType;
    return socket;
  };

  // The connection's state, in words, for everyone.
  var REFUSED = 1008;
  function show(state, event) {
    var status = document.getElementById("link-state");
    if (!status) { return; }
    var code = event && event.detail && event.detail.event ? event.detail.event.code : 0;
    if (state === "down" && code === REFUSED) { state = "refused"; }
    if (status.dataset.state === state) { return; }
    status.dataset.state = state;
    status.textContent = status.getAttribute("data-" + state) || "";
  }
  document.addEventListener("htmx:wsOpen", function (e) { show("live", e); });
  document.addEventListener("htmx:wsClose", function (e) { show("down", e); });

  // A script few screens need (the minutes' editor) is fetched when the page first shows
  // what it serves: at load, or when a live redraw brings it (the room card of a new round).
  var lazy = document.querySelectorAll('meta[name="samla-lazy-script"]');
  Array.prototype.forEach.call(lazy, function (meta) {
    var selector = meta.getAttribute("data-when"), watcher = null;
    function fetchWhenShown() {
      if (!document.querySelector(selector)) { return; }
      if (watcher) { watcher.disconnect(); }
      var script = document.createElement("script");
      script.src = meta.content;
      document.head.appendChild(script);
      return true;
    }
    if (!fetchWhenShown()) {
      watcher = new MutationObserver(fetchWhenShown);
      watcher.observe(document.body, { childList: true, subtree: true });
    }
  });
})();
