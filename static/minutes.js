// A room's shared minutes: one text that everyone in the room writes at once. The text is a
// Yjs document (static/vendor/yjs-*.min.js, loaded only where minutes are shown) kept in step
// with Samla over the y-websocket protocol; the person writes in a plain <textarea>.
//
// - Nothing typed is lost: the document is kept in this browser (localStorage, per room) on
//   every change and applied again on load, so a reload or a lost network keeps what was
//   typed; once the socket is back, the sync exchange (step 1 and 2) sends what Samla lacks,
//   in pieces when it is more than one message carries. Two tabs' copies are merged.
// - A change lost on its way is fetched: the editor asks Samla what it has every half minute,
//   and when the page is shown again or the network is back.
// - Someone else's change moves the text under the caret, never the caret: the selection is
//   held as Yjs relative positions across it.
// - The page's live redraws never touch the editor (a stable id and hx-preserve, and the morph
//   passes it by, below); an editor whose element leaves the page (another room, the rooms
//   closed) stops. Inside a closed <details> an editor connects only once opened.
(function () {
  "use strict";

  var SYNC = 0, AWARENESS = 1, QUERY_AWARENESS = 3;
  var TOO_BIG = 1009, REFUSED = 1008;
  // Samla's limits (API.md): an update over 64 KB or a document past 1 MB is refused. A paste
  // is sent in pieces well inside one update; the text stops short of the document's limit,
  // leaving room for Yjs's own bookkeeping.
  var PIECE_CHARS = 16 * 1024;  // at most 48 KB of UTF-8
  var TEXT_MAX_BYTES = 900 * 1024;
  // Backoff between reconnects: doubling from one second up to half a minute, with jitter so
  // a hall whose network came back does not reconnect in one burst.
  var RETRY_FIRST_MS = 1000, RETRY_MAX_MS = 30000;
  // Samla answers "what do you have?" (sync step 1) at most 30 times a minute: after edits the
  // question goes out at most every 4 seconds, its answer saying all before it is stored.
  var ASK_EVERY_MS = 4000;
  // How long an edit may wait for that answer before the status says "Saving…": shorter
  // would flicker with every pause in a screen reader's polite region.
  var SAVING_AFTER_MS = 6000;
  // Someone counts as writing now for this long after their last keystroke.
  var WRITING_MS = 8000;
  var STORE_PREFIX = "samla:minutes:";
  // When each kept copy was last written: copies not touched for this long are dropped, so a
  // browser used at many events does not fill its storage with old rooms.
  var STORED_AT_PREFIX = "samla:minutes-at:";
  var KEEP_MS = 30 * 24 * 3600 * 1000;
  // A copy is written a moment after typing stops (and when the page is hidden or left): a
  // long text is not encoded on every keystroke.
  var SAVE_AFTER_MS = 800;
  // This browser's own changes that Samla has not yet said it stored, kept beside the copy:
  // after a while offline they go out one piece at a time, each well inside one update.
  var UNSENT_PREFIX = "samla:minutes-unsent:";
  // Each page keeps its own copy (the document's key, "#", the page's own id): two tabs never
  // write the same entry, as storage gives no way to read and write it in one step across
  // tabs. A page starts from every copy of its document and, once its own holds them all,
  // drops those of pages gone this long (a living page marks its copy every few seconds).
  var GONE_MS = 120 * 1000;
  var PIECE_BYTES = 32 * 1024;
  // The answer to Samla's "what do you have?" on connect goes out whole up to this size, else
  // as pieces (Samla takes at most 64 KB a message).
  var ANSWER_MAX_BYTES = 56 * 1024;
  // A reader who missed a change (a relay lost on the way) asks "what do you have?" this
  // often, and when the page is shown again or the network is back. The editor's
  // data-resync-ms, where set, says another interval.
  var RESYNC_MS = 30000;
  // Samla takes at most 40 changes a second from one writer, and closes the socket of one
  // that sends more (a script). A page sends at most this many a second: the keystrokes of a
  // faster burst (a fast typist, dictation, a word replaced letter by letter) wait, and go
  // out together as one change when the second has passed.
  var PACE_PER_S = 20;

  var LOCAL = { name: "local" }, REMOTE = { name: "remote" }, STORE = { name: "store" };
  var editors = new Map();  // element -> editor
  var loading = null;

  function loadYjs(src) {
    if (window.SamlaYjs) { return Promise.resolve(window.SamlaYjs); }
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(window.SamlaYjs); };
        script.onerror = function () { loading = null; reject(new Error("yjs")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  function socketUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function utf8Length(s) {
    return new TextEncoder().encode(s).length;
  }

  function toBase64(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(out);
  }

  function fromBase64(text) {
    var raw = atob(text), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  // The smallest change from `before` to `after`: one deletion and one insertion at `at`,
  // never splitting a character written as two UTF-16 units.
  function difference(before, after) {
    var start = 0, most = Math.min(before.length, after.length);
    while (start < most && before.charCodeAt(start) === after.charCodeAt(start)) { start++; }
    if (start > 0 && /[\uD800-\uDBFF]/.test(before.charAt(start - 1))) { start--; }
    var end = 0;
    while (end < most - start &&
           before.charCodeAt(before.length - 1 - end) === after.charCodeAt(after.length - 1 - end)) {
      end++;
    }
    if (end > 0 && /[\uDC00-\uDFFF]/.test(before.charAt(before.length - end))) { end--; }
    return { at: start, remove: before.length - start - end, insert: after.slice(start, after.length - end) };
  }

  function Editor(root, Y) {
    this.root = root;
    this.Y = Y;
    this.room = root.getAttribute("data-minutes");
    this.path = root.getAttribute("data-sync");
    this.key = STORE_PREFIX + root.getAttribute("data-minutes");
    this.own = this.key + "#" + Math.random().toString(36).slice(2, 10);
    this.gone = [];  // copies of closed pages, merged here, dropped once this page's is kept
    this.area = root.querySelector("textarea");
    this.status = root.querySelector("[data-minutes-status]");
    this.writing = root.querySelector("[data-minutes-writing]");
    this.readOnly = root.hasAttribute("data-readonly");
    this.socket = null;
    this.retries = 0;
    this.timer = null;
    this.stopped = false;
    this.refused = false;
    this.sent = 0;  // content sent to Samla, counted
    this.asked = -1;  // `sent` when the last "what do you have?" (sync step 1) went out
    this.savingTimer = null;
    this.askTimer = null;
    this.askedAt = 0;
    this.saveTimer = null;
    this.composing = false;
    this.behind = false;  // a remote change arrived while an input method was composing
    this.held = null;
    this.paced = [];  // changes waiting for the pace (PACE_PER_S), sent together
    this.pacedTimer = null;
    this.sentAt = [];  // when the changes of the last second went out
    this.unsent = [];  // {update, seq}: this browser's changes Samla has not acknowledged
    this.seq = 0;
    this.sentSeq = 0;  // the last of them sent on the current socket
    this.marks = [];  // `sentSeq` at each "what do you have?" on this socket, not yet answered
    this.catchingUp = 0;  // `seq` covered by the answer sent on connect, until acknowledged
    this.inPieces = false;  // the answer on connect goes out as pieces
    this.start();
  }

  Editor.prototype.start = function () {
    var self = this;
    this.makeDoc(true);
    this.area.readOnly = this.readOnly;
    this.show(this.readOnly ? "readonly" : "connecting");
    this.onInput = function () { if (!self.composing) { self.typed(); } };
    this.onCompositionStart = function () { self.composing = true; };
    this.onCompositionEnd = function () {
      self.composing = false;
      self.typed();
      if (self.behind) { self.behind = false; self.render(); }
    };
    this.onOnline = function () {
      self.retries = 0;
      if (self.socket) { self.ask(); } else { self.connectSoon(0); }
    };
    // Offline is said at once, whatever the socket still does: its closing may wait on a
    // network that is gone, and nothing may show "saved" until the browser is back.
    this.onOffline = function () {
      self.show(self.readOnly ? "readonly" : "offline");
      if (self.socket) { self.socket.close(); }
    };
    this.onHide = function () { self.saveNow(); };
    this.onVisibility = function () {
      if (document.visibilityState === "hidden") { self.saveNow(); } else { self.ask(); }
    };
    this.area.addEventListener("input", this.onInput);
    this.area.addEventListener("compositionstart", this.onCompositionStart);
    this.area.addEventListener("compositionend", this.onCompositionEnd);
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    window.addEventListener("pagehide", this.onHide);
    document.addEventListener("visibilitychange", this.onVisibility);
    this.tick = setInterval(function () { self.showWriters(); self.markAlive(); }, 2000);
    var every = Number(this.root.getAttribute("data-resync-ms")) || RESYNC_MS;
    this.resync = setInterval(function () { self.ask(); }, Math.max(200, every));
    this.connect();
  };

  Editor.prototype.stop = function () {
    this.stopped = true;
    this.saveNow();
    clearTimeout(this.timer);
    clearTimeout(this.savingTimer);
    clearTimeout(this.askTimer);
    clearTimeout(this.pacedTimer);
    clearInterval(this.tick);
    clearInterval(this.resync);
    this.area.removeEventListener("input", this.onInput);
    this.area.removeEventListener("compositionstart", this.onCompositionStart);
    this.area.removeEventListener("compositionend", this.onCompositionEnd);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    window.removeEventListener("pagehide", this.onHide);
    document.removeEventListener("visibilitychange", this.onVisibility);
    if (this.socket) { this.socket.close(1000); }
    this.awareness.destroy();
    this.doc.destroy();
  };

  // The document, from this browser's copy when there is one (what was typed and not yet
  // sent survives a reload), else empty until Samla sends its own.
  Editor.prototype.makeDoc = function (fromStore) {
    var self = this, Y = this.Y;
    this.doc = new Y.Doc();
    this.text = this.doc.getText("minutes");
    if (fromStore && !this.readOnly) {
      var now = Date.now(), unsent = [];
      copiesOf(this.key).forEach(function (key) {
        try {
          var kept = localStorage.getItem(key);
          if (kept) { Y.applyUpdate(self.doc, fromBase64(kept), STORE); }
          storedUnsent(key).forEach(function (text) {
            if (unsent.indexOf(text) < 0) { unsent.push(text); }
          });
          var at = Number(localStorage.getItem(STORED_AT_PREFIX + key));
          if (key === self.key || !(now - at < GONE_MS)) { self.gone.push(key); }
        } catch (e) { /* a broken or blocked copy: the others, and Samla's */ }
      });
      this.unsent = unsent.map(function (text) {
        return { update: fromBase64(text), seq: ++self.seq };
      });
    }
    this.area.value = this.text.toString();
    this.doc.on("beforeTransaction", function (tr) {
      if (tr.origin !== LOCAL) { self.hold(); }
    });
    this.text.observe(function (event, tr) {
      if (tr.origin === LOCAL) { return; }
      if (self.composing) { self.behind = true; return; }
      self.render();
    });
    this.doc.on("update", function (update, origin) {
      self.saveSoon();
      if (origin === LOCAL) {
        self.unsent.push({ update: update, seq: ++self.seq });
        self.sendUpdate(update);
      }
    });
    var A = window.SamlaYjs.awareness;
    this.awareness = new A.Awareness(this.doc);
    if (this.readOnly) {
      this.awareness.setLocalState(null);
    } else {
      this.awareness.setLocalState({ name: this.myName(), writing: 0 });
    }
    this.awareness.on("update", function (changes, origin) {
      if (origin === REMOTE) { self.showWriters(); return; }
      // Only this writer's own state: Samla takes one writer per socket.
      var mine = changes.added.concat(changes.updated, changes.removed);
      if (mine.indexOf(self.doc.clientID) >= 0) { self.sendAwareness([self.doc.clientID]); }
    });
  };

  // The name this person shows, if any: their saved name on the phone (Samla puts the name
  // the writer shows in their awareness whatever it says, and none for a moderator).
  Editor.prototype.myName = function () {
    var field = document.getElementById("you-name");
    var saved = field ? (field.getAttribute("value") || "").trim() : "";
    return saved || null;
  };

  // -- the textarea and the shared text -----------------------------------------------------

  Editor.prototype.typed = function () {
    if (this.readOnly) { this.area.value = this.text.toString(); return; }
    var before = this.text.toString(), after = this.area.value;
    if (before === after) { return; }
    if (after.length > before.length && utf8Length(after) > TEXT_MAX_BYTES) {
      var caret = this.area.selectionStart - (after.length - before.length);
      this.area.value = before;
      this.area.setSelectionRange(Math.max(0, caret), Math.max(0, caret));
      this.show("too-long");
      return;
    }
    var change = difference(before, after), text = this.text;
    if (change.remove > 0) {
      this.doc.transact(function () { text.delete(change.at, change.remove); }, LOCAL);
    }
    // Each piece is its own transaction, so its own update, well inside Samla's limit.
    for (var i = 0; i < change.insert.length; i += PIECE_CHARS) {
      var end = i + PIECE_CHARS;
      if (end < change.insert.length && /[\uD800-\uDBFF]/.test(change.insert.charAt(end - 1))) { end--; }
      var piece = change.insert.slice(i, end), at = change.at + i;
      this.doc.transact(function () { text.insert(at, piece); }, LOCAL);
      i = end - PIECE_CHARS;
    }
    var now = Date.now(), state = this.awareness.getLocalState();
    if (state && now - (state.writing || 0) > WRITING_MS / 4) {
      this.awareness.setLocalStateField("writing", now);
    }
  };

  // Where the selection is, in terms that survive someone else's change before it.
  Editor.prototype.hold = function () {
    if (document.activeElement !== this.area) { this.held = null; return; }
    var Y = this.Y, text = this.text;
    this.held = {
      start: Y.createRelativePositionFromTypeIndex(text, this.area.selectionStart),
      end: Y.createRelativePositionFromTypeIndex(text, this.area.selectionEnd),
      direction: this.area.selectionDirection,
    };
  };

  Editor.prototype.render = function () {
    var value = this.text.toString(), held = this.held, Y = this.Y;
    this.held = null;
    if (this.area.value === value) { return; }
    var top = this.area.scrollTop;
    this.area.value = value;
    this.area.scrollTop = top;
    if (held && document.activeElement === this.area) {
      var start = Y.createAbsolutePositionFromRelativePosition(held.start, this.doc);
      var end = Y.createAbsolutePositionFromRelativePosition(held.end, this.doc);
      if (start && end) { this.area.setSelectionRange(start.index, end.index, held.direction); }
    }
  };

  // -- kept in this browser -----------------------------------------------------------------

  Editor.prototype.saveSoon = function () {
    var self = this;
    if (this.saveTimer) { return; }
    this.saveTimer = setTimeout(function () { self.saveNow(); }, SAVE_AFTER_MS);
  };

  // This page's copy, and its changes not yet sent, under its own key (see GONE_MS). Once
  // they are kept, the copies of closed pages this page started from are dropped: all they
  // held is in this page's now.
  Editor.prototype.saveNow = function () {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (this.readOnly || !this.doc) { return; }
    try {
      localStorage.setItem(this.own, toBase64(this.Y.encodeStateAsUpdate(this.doc)));
      localStorage.setItem(STORED_AT_PREFIX + this.own, String(Date.now()));
      this.compact();
      var now = this.unsent.map(function (entry) { return toBase64(entry.update); });
      if (now.length) { localStorage.setItem(UNSENT_PREFIX + this.own, JSON.stringify(now)); }
      else { localStorage.removeItem(UNSENT_PREFIX + this.own); }
      this.gone.forEach(removeCopy);
      this.gone = [];
    } catch (e) { /* storage full or blocked: the socket still carries every change */ }
  };

  // A living page marks its copy, so that no other page takes it for a closed one's.
  Editor.prototype.markAlive = function () {
    try {
      if (localStorage.getItem(this.own) !== null) {
        localStorage.setItem(STORED_AT_PREFIX + this.own, String(Date.now()));
      }
    } catch (e) { /* no storage */ }
  };

  // Every copy of a document this browser keeps: each page's, and one from before pages had
  // their own.
  function copiesOf(key) {
    var found = [];
    try {
      for (var i = 0; i < localStorage.length; i++) {
        var k = localStorage.key(i);
        if (k === key || (k && k.indexOf(key + "#") === 0)) { found.push(k); }
      }
    } catch (e) { /* no storage */ }
    return found;
  }

  function removeCopy(key) {
    localStorage.removeItem(key);
    localStorage.removeItem(STORED_AT_PREFIX + key);
    localStorage.removeItem(UNSENT_PREFIX + key);
  }

  function storedUnsent(key) {
    try {
      var list = JSON.parse(localStorage.getItem(UNSENT_PREFIX + key) || "[]");
      return Array.isArray(list) ? list.filter(function (t) { return typeof t === "string"; }) : [];
    } catch (e) { return []; }
  }

  // Neighbouring unsent changes become one, up to a piece's size: typing offline leaves a few
  // pieces, not one per keystroke. A merged piece is acknowledged with its last change.
  Editor.prototype.compact = function () {
    var Y = this.Y, out = [];
    this.unsent.forEach(function (entry) {
      var last = out[out.length - 1];
      if (last && last.update.length + entry.update.length <= PIECE_BYTES) {
        out[out.length - 1] = { update: Y.mergeUpdates([last.update, entry.update]), seq: entry.seq };
      } else {
        out.push(entry);
      }
    });
    this.unsent = out;
  };

  // Samla stored everything this page sent before its "what do you have?" was answered.
  Editor.prototype.acknowledge = function (upTo) {
    var before = this.unsent.length;
    this.unsent = this.unsent.filter(function (entry) { return entry.seq > upTo; });
    if (this.catchingUp && upTo >= this.catchingUp) { this.catchingUp = 0; this.inPieces = false; }
    if (this.unsent.length !== before) { this.saveSoon(); }
  };

  function dropOldCopies() {
    try {
      var now = Date.now(), old = [];
      for (var i = 0; i < localStorage.length; i++) {
        var key = localStorage.key(i);
        if (key && key.indexOf(STORE_PREFIX) === 0 && key.indexOf(UNSENT_PREFIX) !== 0) {
          var at = Number(localStorage.getItem(STORED_AT_PREFIX + key));
          if (!(now - at < KEEP_MS)) { old.push(key); }
        }
      }
      old.forEach(removeCopy);
    } catch (e) { /* no storage: nothing kept */ }
  }

  // -- the socket -----------------------------------------------------------------------------

  Editor.prototype.connect = function () {
    var self = this;
    if (this.stopped || this.refused) { return; }
    if (navigator.onLine === false) {
      // The "online" event connects; a slow retry in case it never comes.
      this.show(this.readOnly ? "readonly" : "offline");
      this.connectSoon(RETRY_MAX_MS);
      return;
    }
    var socket = new WebSocket(socketUrl(this.path));
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.sentSeq = 0;
    this.marks = [];
    this.catchingUp = 0;
    // What waited for the pace goes with the answer on connect, as all that is unsent does.
    this.paced = [];
    clearTimeout(this.pacedTimer);
    this.pacedTimer = null;
    socket.onopen = function () {
      self.ask();
      // Its state again with a newer clock: the others were told it left at its last clock,
      // and take a state only when its clock has moved on (the update handler sends it).
      var state = self.awareness.getLocalState();
      if (state) { self.awareness.setLocalState(state); }
    };
    socket.onmessage = function (event) {
      if (socket === self.socket && event.data instanceof ArrayBuffer) {
        self.receive(new Uint8Array(event.data));
      }
    };
    socket.onclose = function (event) {
      if (socket !== self.socket) { return; }
      self.socket = null;
      self.closed(event);
    };
  };

  Editor.prototype.connectSoon = function (delay) {
    var self = this;
    clearTimeout(this.timer);
    if (this.socket || this.stopped || this.refused) { return; }
    this.timer = setTimeout(function () { self.connect(); }, delay);
  };

  Editor.prototype.closed = function (event) {
    var A = window.SamlaYjs.awareness;
    var others = Array.from(this.awareness.getStates().keys()).filter(function (id) {
      return id !== this.doc.clientID;
    }, this);
    A.removeAwarenessStates(this.awareness, others, REMOTE);
    if (this.stopped) { return; }
    if (event.code === REFUSED) {
      this.refused = true;
      this.readOnly = true;
      this.area.readOnly = true;
      this.show(/clos/i.test(event.reason || "") || this.root.hasAttribute("data-readonly")
        ? "readonly" : "refused");
      return;
    }
    if (event.code === TOO_BIG && this.catchingUp) {
      // What was written while away was too much at once: nothing of it is dropped, it goes
      // again in pieces.
      this.inPieces = true;
    } else if (event.code === TOO_BIG) {
      // Samla kept the document as it was: start again from its copy, and say why.
      this.forget();
      this.show("too-long");
      this.connectSoon(0);
      return;
    }
    this.show(this.readOnly ? "readonly" : "offline");
    var delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, this.retries));
    this.retries += 1;
    this.connectSoon(navigator.onLine === false ? RETRY_MAX_MS : delay * (0.5 + Math.random() / 2));
  };

  // Drops this page's copy (Samla refused it): the text comes back from Samla's.
  Editor.prototype.forget = function () {
    try {
      removeCopy(this.own);
      this.gone.forEach(removeCopy);
    } catch (e) { /* nothing kept */ }
    this.gone = [];
    this.unsent = [];
    this.awareness.destroy();
    this.doc.destroy();
    this.makeDoc(false);
  };

  Editor.prototype.send = function (encoder) {
    var socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) { return false; }
    socket.send(window.SamlaYjs.encoding.toUint8Array(encoder));
    return true;
  };

  Editor.prototype.message = function (type) {
    var E = window.SamlaYjs.encoding, encoder = E.createEncoder();
    E.writeVarUint(encoder, type);
    return encoder;
  };

  // Sync step 1: "this is what I have". Samla answers with step 2, what this browser lacks;
  // as it answers in order, that answer also says it has everything sent before.
  Editor.prototype.ask = function () {
    var encoder = this.message(SYNC);
    window.SamlaYjs.sync.writeSyncStep1(encoder, this.doc);
    if (this.send(encoder)) {
      this.asked = this.sent;
      this.askedAt = Date.now();
      this.marks.push(this.sentSeq);
    }
  };

  Editor.prototype.sendUpdate = function (update) {
    var now = Date.now(), self = this;
    this.sentAt = this.sentAt.filter(function (at) { return now - at < 1000; });
    if (this.paced.length || this.sentAt.length >= PACE_PER_S) {
      this.paced.push(update);
      if (!this.pacedTimer) {
        var wait = this.sentAt.length ? this.sentAt[0] + 1000 - now : 0;
        this.pacedTimer = setTimeout(function () { self.sendPaced(); }, Math.max(50, wait));
      }
      return;
    }
    this.sentAt.push(now);
    var encoder = this.message(SYNC);
    window.SamlaYjs.sync.writeUpdate(encoder, update);
    if (this.send(encoder)) { this.sent += 1; this.sentSeq = this.seq; }
    if (this.status && this.status.getAttribute("data-state") === "saved") { this.show("saving", true); }
    this.unsaved();
  };

  // The changes that waited for the pace: the first of them as one change, up to a piece's
  // size (Samla takes at most 64 KB a message); the rest wait for the pace again, so a long
  // paste still goes out piece by piece. Each is among the unsent until Samla has it.
  Editor.prototype.sendPaced = function () {
    this.pacedTimer = null;
    var waiting = this.paced, first = [], size = 0;
    while (waiting.length && (!first.length || size + waiting[0].length <= PIECE_BYTES)) {
      size += waiting[0].length;
      first.push(waiting.shift());
    }
    this.paced = [];
    if (first.length) { this.sendUpdate(first.length > 1 ? this.Y.mergeUpdates(first) : first[0]); }
    waiting.forEach(function (update) { this.sendUpdate(update); }, this);
  };

  Editor.prototype.unsaved = function () {
    var self = this;
    if (!this.savingTimer) {
      this.savingTimer = setTimeout(function () {
        self.savingTimer = null;
        if (self.asked !== self.sent) { self.show("saving"); }
      }, SAVING_AFTER_MS);
    }
    if (!this.askTimer) {
      var wait = Math.max(300, (this.askedAt || 0) + ASK_EVERY_MS - Date.now());
      this.askTimer = setTimeout(function () {
        self.askTimer = null;
        if (self.asked !== self.sent) { self.ask(); }
      }, wait);
    }
  };

  Editor.prototype.sendAwareness = function (clients) {
    var A = window.SamlaYjs.awareness, E = window.SamlaYjs.encoding;
    var encoder = this.message(AWARENESS);
    E.writeVarUint8Array(encoder, A.encodeAwarenessUpdate(this.awareness, clients));
    this.send(encoder);
  };

  // Samla asked what it lacks (its step 1, on connect): the answer carries what was typed
  // while away, whole when it is small, else in pieces: this page's unsent changes, then
  // whatever else the copy holds that Samla lacks (changes kept before), one writer at a time.
  Editor.prototype.answer = function (state) {
    var S = window.SamlaYjs, Y = this.Y, whole = Y.encodeStateAsUpdate(this.doc, state);
    var pieces = [whole];
    if (this.inPieces || whole.length > ANSWER_MAX_BYTES) { pieces = this.pieces(state); }
    var sent = false, self = this;
    pieces.forEach(function (piece, i) {
      var encoder = self.message(SYNC);
      S.encoding.writeVarUint(encoder, i === 0 ? S.sync.messageYjsSyncStep2 : S.sync.messageYjsUpdate);
      S.encoding.writeVarUint8Array(encoder, piece);
      if (self.send(encoder) && piece.length > 2) { sent = true; }
    });
    if (!sent) { return; }
    this.sent += 1;
    this.sentSeq = this.seq;
    this.catchingUp = this.seq || -1;
    this.show("saving");
    this.unsaved();
  };

  Editor.prototype.pieces = function (state) {
    var Y = this.Y, out = [], covered = new Set();
    this.compact();
    this.unsent.forEach(function (entry) {
      Y.parseUpdateMeta(entry.update).to.forEach(function (clock, client) { covered.add(client); });
      var part = Y.diffUpdate(entry.update, state);
      if (part.length > 2) { out.push(part); }
    });
    var theirs = Y.decodeStateVector(state), ours = Y.decodeStateVector(Y.encodeStateVector(this.doc));
    ours.forEach(function (clock, client) {
      var has = theirs.get(client) || 0;
      if (covered.has(client) || clock <= has) { return; }
      var only = new Map(ours);
      only.set(client, has);
      out.push(Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(only)));
    }, this);
    // Last, every deletion the copy knows of (small: ranges, not text).
    var deleted = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(ours));
    if (deleted.length > 2 || !out.length) { out.push(deleted); }
    return out;
  };

  Editor.prototype.receive = function (bytes) {
    var S = window.SamlaYjs, D = S.decoding, decoder = D.createDecoder(bytes);
    var type = D.readVarUint(decoder);
    if (type === SYNC) {
      var peek = D.createDecoder(bytes);
      D.readVarUint(peek);
      if (D.readVarUint(peek) === S.sync.messageYjsSyncStep1) {
        this.answer(D.readVarUint8Array(peek));
        return;
      }
      var kind = S.sync.readSyncMessage(decoder, this.message(SYNC), this.doc, REMOTE);
      if (kind === S.sync.messageYjsSyncStep2 && this.marks.length) {
        this.acknowledge(this.marks.shift());
      }
      if (kind === S.sync.messageYjsSyncStep2 && this.asked === this.sent) {
        this.retries = 0;
        if (!this.readOnly && navigator.onLine !== false) { this.show("saved"); }
      }
    } else if (type === AWARENESS) {
      S.awareness.applyAwarenessUpdate(this.awareness, D.readVarUint8Array(decoder), REMOTE);
    } else if (type === QUERY_AWARENESS && this.awareness.getLocalState()) {
      this.sendAwareness([this.doc.clientID]);
    }
  };

  // -- what the person is told ----------------------------------------------------------------

  // The status line. `quietly` marks the state (its dot) without new words: an edit on its
  // way is not announced with every keystroke, only when it takes long.
  Editor.prototype.show = function (state, quietly) {
    var status = this.status;
    if (!status) { return; }
    // A refusal's words stay a while, unless the connection itself changes.
    var firm = state === "offline" || state === "readonly" || state === "refused";
    if (this.stickyUntil && Date.now() < this.stickyUntil && !firm) { return; }
    this.stickyUntil = state === "too-long" ? Date.now() + 8000 : 0;
    status.setAttribute("data-state", state);
    this.root.setAttribute("data-state", state);
    if (quietly) { return; }
    var shared = document.getElementById("minutes-words");
    var words = status.getAttribute("data-" + state) ||
      (shared && shared.getAttribute("data-" + state)) || "";
    if (status.textContent !== words) { status.textContent = words; }
  };

  Editor.prototype.showWriters = function () {
    if (!this.writing) { return; }
    var now = Date.now(), names = [], unnamed = 0, self = this.doc.clientID;
    this.awareness.getStates().forEach(function (state, id) {
      if (id === self || !state || !state.writing || now - state.writing > WRITING_MS) { return; }
      if (state.name) { names.push(String(state.name).slice(0, 80)); } else { unnamed += 1; }
    });
    names.sort();
    for (var i = 0; i < unnamed; i++) { names.push(this.writing.getAttribute("data-someone")); }
    var line = names.length ? this.writing.getAttribute("data-label") + " " + names.join(", ") : "";
    if (this.writing.textContent !== line) { this.writing.textContent = line; }
  };

  // -- editors come and go with the page ----------------------------------------------------

  function wanted(root) {
    var fold = root.closest("details");
    return !fold || fold.open;
  }

  // A fold of minutes someone opened stays open across a reload (for this tab's visit).
  var OPEN_PREFIX = "samla:minutes-open:";
  function remember(event) {
    var root = event.target;
    if (root.tagName !== "DETAILS" || !root.hasAttribute("data-minutes")) { return; }
    try {
      if (root.open) { sessionStorage.setItem(OPEN_PREFIX + root.id, "1"); }
      else { sessionStorage.removeItem(OPEN_PREFIX + root.id); }
    } catch (e) { /* not kept: it opens closed */ }
  }
  function reopen(root) {
    try {
      if (root.tagName === "DETAILS" && sessionStorage.getItem(OPEN_PREFIX + root.id)) { root.open = true; }
    } catch (e) { /* not kept */ }
  }

  function scan() {
    editors.forEach(function (editor, root) {
      if (!root.isConnected) { editor.stop(); editors.delete(root); }
    });
    var roots = document.querySelectorAll("[data-minutes]");
    Array.prototype.forEach.call(roots, function (root) {
      if (!root.samlaSeen) { root.samlaSeen = true; reopen(root); }
      if (editors.has(root) || !wanted(root) || !root.querySelector("textarea")) { return; }
      editors.set(root, null);
      loadYjs(root.getAttribute("data-yjs")).then(function (Y) {
        if (root.isConnected && editors.get(root) === null) { editors.set(root, new Editor(root, Y.Y)); }
        else { editors.delete(root); }
      }, function () { editors.delete(root); });
    });
  }

  // A live redraw morphs the page (idiomorph: every panel is sent with hx-swap-oob="morph") and
  // leaves an editor it draws again exactly as it is: the same element, its text, caret, focus
  // and socket. htmx's own hx-preserve would take the element out of the page and put it back,
  // which keeps all that only where the browser has Element.moveBefore; so a redraw's editor is
  // not handed to hx-preserve, the morph passes it by. An editor the page no longer draws (another room, the rooms closed) goes:
  // what was typed in it is in Samla or kept in this browser, not held back as a withdrawn form.
  function isEditor(node) {
    return node.nodeType === 1 && node.hasAttribute("data-minutes");
  }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var fragment = event.detail && event.detail.fragment;
    if (!fragment || !window.Idiomorph) { return; }
    Array.prototype.forEach.call(fragment.querySelectorAll("[data-minutes][hx-preserve]"), function (fresh) {
      var old = document.getElementById(fresh.id);
      if (old && isEditor(old)) { fresh.removeAttribute("hx-preserve"); }
    });
  });
  if (window.Idiomorph) {
    var callbacks = window.Idiomorph.defaults.callbacks;
    var morphing = callbacks.beforeNodeMorphed, removing = callbacks.beforeNodeRemoved;
    callbacks.beforeNodeMorphed = function (old, fresh) {
      if (isEditor(old) && fresh.nodeType === 1 && fresh.id === old.id) { return false; }
      return morphing ? morphing.apply(this, arguments) : true;
    };
    callbacks.beforeNodeRemoved = function (node) {
      if (isEditor(node)) { return true; }
      return removing ? removing.apply(this, arguments) : true;
    };
  }

  var queued = false;
  function scanSoon() {
    if (queued) { return; }
    queued = true;
    setTimeout(function () { queued = false; scan(); }, 0);
  }
  if (document.querySelector("[data-minutes]")) { dropOldCopies(); }
  new MutationObserver(scanSoon).observe(document.body, { childList: true, subtree: true });
  document.addEventListener("toggle", function (event) { remember(event); scanSoon(); }, true);
  scan();

  // The moderator collects a passage: its form (data-minutes-collect names the editor's
  // document, as its data-minutes does, read-only or not) carries
  // the text chosen in the room's minutes, all of it when nothing is chosen. This runs before htmx reads the form to send it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-minutes-collect")) { return; }
    var name = form.getAttribute("data-minutes-collect");
    var root = document.querySelector('[data-minutes="' + CSS.escape(name) + '"]');
    var area = root && root.querySelector("textarea");
    var field = form.querySelector("input[name=text]");
    if (!area || !field) { return; }
    var chosen = area.value.slice(area.selectionStart, area.selectionEnd).trim();
    field.value = chosen || area.value.trim();
  }, true);
})();
