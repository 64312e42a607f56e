/* Live conversation (messaging/_conversation.html): Socket.IO chat, typing indicator, read
 * receipts, attachments, replies (threads) and an @-autocomplete of the participants' handles.
 * Message HTML (body_html) comes from the server, already sanitised (nh3: only <a>, <br> and
 * <span class="mention">); everything else is inserted as text. */
(function () {
  "use strict";
  var root = document.querySelector("[data-testid=chat]");
  if (!root || typeof io === "undefined") return;

  var conversationId = Number(root.dataset.conversationId);
  var me = Number(root.dataset.userId);
  var log = root.querySelector(".chat-log");
  var form = root.querySelector(".chat-form");
  var input = form.querySelector("textarea");
  var fileInput = form.querySelector("input[type=file]");
  var statusEl = root.querySelector(".chat-status");
  var typingEl = root.querySelector(".chat-typing");
  var seenEl = root.querySelector(".chat-seen");
  var errorEl = root.querySelector(".chat-error");
  var pendingEl = root.querySelector(".chat-pending");
  var replyBar = root.querySelector(".chat-replying");
  var replyName = root.querySelector(".chat-replying-name");
  var replyExcerpt = root.querySelector(".chat-replying-excerpt");
  var replyField = form.querySelector("input[name=reply_to_id]");
  var mentionList = root.querySelector(".chat-mentions");
  var candidates = JSON.parse(root.dataset.mentionCandidates || "[]");
  var senderNames = JSON.parse(root.dataset.senderNames || "{}");
  var replyTo = Number(replyField.value || 0) || null;
  var pendingAttachments = [];
  var otherRead = Number(root.dataset.otherRead || 0);
  var typingTimer = null, typingSentAt = 0, typingHide = null;

  var socket = io({ transports: ["websocket", "polling"], tryAllTransports: true });

  function showError(text) {
    errorEl.textContent = text || "";
    errorEl.hidden = !text;
  }

  function lastId(mineOnly) {
    var nodes = log.querySelectorAll(".chat-message" + (mineOnly ? ".mine" : ""));
    return nodes.length ? Number(nodes[nodes.length - 1].dataset.messageId) : 0;
  }

  function updateSeen() {
    var mine = lastId(true);
    seenEl.hidden = !(mine && otherRead >= mine && lastId(false) === mine);
  }

  // The same decorative paperclip as the page's icon("paperclip") (an SVG: emoji need an emoji font).
  var SVG_NS = "http://www.w3.org/2000/svg";
  function paperclipIcon() {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "icon icon-paperclip");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", "M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9");
    svg.appendChild(path);
    return svg;
  }

  function quote(r) {
    var link = document.createElement("a");
    link.className = "chat-quote";
    link.href = "#m-" + r.id;
    link.dataset.quoteOf = r.id;
    link.setAttribute("data-testid", "message-quote");
    var who = document.createElement("strong");
    who.textContent = r.sender_name;
    var text = document.createElement("span");
    text.textContent = r.excerpt;
    link.appendChild(who);
    link.appendChild(document.createTextNode(" "));
    link.appendChild(text);
    return link;
  }

  function render(m) {
    var el = document.createElement("article");
    el.className = "chat-message" + (m.sender_id === me ? " mine" : "") + (m.kind === "system" ? " system" : "");
    el.id = "m-" + m.id;
    el.dataset.messageId = m.id;
    if (m.sender_id) el.dataset.senderId = m.sender_id;
    el.setAttribute("data-testid", "message");
    if (m.reply_to) el.appendChild(quote(m.reply_to));
    var body = document.createElement("div");
    body.className = "chat-body";
    body.innerHTML = m.body_html; // server-sanitised
    el.appendChild(body);
    (m.attachments || []).forEach(function (a) {
      var link = document.createElement("a");
      link.className = "chat-attachment";
      link.href = a.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.appendChild(paperclipIcon());
      link.appendChild(document.createTextNode(" " + a.filename));
      el.appendChild(link);
    });
    var meta = document.createElement("footer");
    meta.className = "chat-meta";
    var time = document.createElement("time");
    time.className = "muted";
    time.dateTime = m.created_at || "";
    time.textContent = (m.created_at || "").slice(11, 16);
    meta.appendChild(time);
    if (m.kind === "user") {
      var reply = document.createElement("a");
      reply.className = "chat-reply";
      reply.href = "?reply_to=" + m.id + "#chat-form";
      reply.dataset.reply = m.id;
      reply.setAttribute("data-testid", "reply");
      reply.textContent = "Reply";
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(reply);
    }
    el.appendChild(meta);
    return el;
  }

  // --- replies ---------------------------------------------------------------------------
  function setReply(id) {
    var target = id && log.querySelector('[data-message-id="' + id + '"]');
    replyTo = target ? id : null;
    replyField.value = replyTo || "";
    replyBar.hidden = !replyTo;
    if (!target) return;
    var sender = target.classList.contains("mine") ? String(me) : target.dataset.senderId;
    replyName.textContent = senderNames[sender] || target.dataset.senderName || "";
    var text = (target.querySelector(".chat-body").textContent || "").replace(/\s+/g, " ").trim();
    replyExcerpt.textContent = text.length > 140 ? text.slice(0, 139) + "…" : text;
    input.focus();
  }

  function flash(el) {
    el.classList.add("chat-flash");
    setTimeout(function () { el.classList.remove("chat-flash"); }, 1600);
  }

  function showMessage(id, tries) {
    var target = log.querySelector('[data-message-id="' + id + '"]');
    if (target) {
      target.scrollIntoView({ block: "center", behavior: "smooth" });
      flash(target);
    } else if (tries > 0 && root.querySelector(".chat-older")) {
      loadOlder().then(function () { showMessage(id, tries - 1); });
    }
  }

  log.addEventListener("click", function (event) {
    var reply = event.target.closest(".chat-reply");
    if (reply) {
      event.preventDefault();
      setReply(Number(reply.dataset.reply));
      return;
    }
    var quoted = event.target.closest(".chat-quote");
    if (quoted) {
      event.preventDefault();
      showMessage(Number(quoted.dataset.quoteOf), 5);
    }
  });

  replyBar.querySelector(".chat-replying-cancel").addEventListener("click", function (event) {
    event.preventDefault();
    setReply(null);
    input.focus();
  });

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function append(m) {
    if (log.querySelector('[data-message-id="' + m.id + '"]')) return;
    var stick = atBottom() || m.sender_id === me;
    log.appendChild(render(m));
    if (stick) log.scrollTop = log.scrollHeight;
    updateSeen();
  }

  function markRead() {
    if (document.visibilityState !== "visible" || !socket.connected) return;
    var id = lastId(false);
    if (id) socket.emit("read", { conversation_id: conversationId, message_id: id });
  }

  socket.on("connect", function () {
    statusEl.textContent = "Online";
    socket.emit("join", { conversation_id: conversationId }, function (ack) {
      if (ack && ack.ok) {
        root.dataset.joined = "1";
        markRead();
      }
    });
  });
  socket.on("disconnect", function () {
    root.dataset.joined = "";
    statusEl.textContent = "Reconnecting…";
  });
  socket.on("connect_error", function () {
    statusEl.textContent = "Offline";
  });

  socket.on("message", function (m) {
    if (m.conversation_id !== conversationId) return;
    append(m);
    if (m.sender_id !== me) {
      typingEl.hidden = true;
      markRead();
    }
  });

  socket.on("typing", function (t) {
    if (t.conversation_id !== conversationId || t.user_id === me) return;
    clearTimeout(typingHide);
    typingEl.textContent = t.display_name + " is typing…";
    typingEl.hidden = !t.typing;
    if (t.typing) typingHide = setTimeout(function () { typingEl.hidden = true; }, 6000);
  });

  socket.on("read_receipt", function (r) {
    if (r.conversation_id !== conversationId || r.user_id === me) return;
    otherRead = Math.max(otherRead, r.message_id);
    updateSeen();
  });

  socket.on("error", function (e) {
    showError(e && e.message);
  });

  document.addEventListener("visibilitychange", markRead);

  function sendTyping(state) {
    if (!socket.connected) return;
    socket.emit("typing", { conversation_id: conversationId, typing: state });
  }

  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - typingSentAt > 2000) {
      typingSentAt = now;
      sendTyping(true);
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () {
      typingSentAt = 0;
      sendTyping(false);
    }, 3000);
  });

  input.addEventListener("keydown", function (event) {
    if (!mentionList.hidden && mentionKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", function (event) {
    if (!socket.connected) return; // the plain form post still works
    event.preventDefault();
    var body = input.value.trim();
    if (!body && !pendingAttachments.length) return;
    showError("");
    var payload = { conversation_id: conversationId, body: body, attachment_ids: pendingAttachments.map(function (a) { return a.id; }) };
    if (replyTo) payload.reply_to_id = replyTo;
    // Cleared at once, so what is typed while the ack travels is kept; put back on a refusal.
    var sentReply = replyTo;
    input.value = "";
    setReply(null);
    socket.emit("send_message", payload, function (ack) {
      if (ack && ack.ok) {
        pendingAttachments = [];
        pendingEl.hidden = true;
        append(ack.message);
        clearTimeout(typingTimer);
        typingSentAt = 0;
        sendTyping(false);
      } else if (ack && ack.error) {
        if (!input.value) input.value = body;
        if (!replyTo && sentReply) setReply(sentReply);
        showError(ack.error.message);
      }
    });
  });

  fileInput.addEventListener("change", function () {
    var file = fileInput.files[0];
    if (!file) return;
    var data = new FormData();
    data.append("file", file);
    showError("");
    fetch(root.dataset.uploadUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": root.dataset.csrfToken },
    })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, json: j }; }); })
      .then(function (res) {
        fileInput.value = "";
        if (!res.ok) return showError(res.json.message || "Upload failed.");
        pendingAttachments.push(res.json);
        pendingEl.textContent = "Attached: " + pendingAttachments.map(function (a) { return a.filename; }).join(", ");
        pendingEl.hidden = false;
      })
      .catch(function () { showError("Upload failed."); });
  });

  var older = root.querySelector(".chat-older");
  function loadOlder() {
    var first = log.querySelector(".chat-message");
    var url = root.dataset.historyUrl + (first ? "?before_id=" + first.dataset.messageId : "");
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (page) {
        var anchor = log.querySelector(".chat-message");
        page.items.forEach(function (m) {
          if (!log.querySelector('[data-message-id="' + m.id + '"]')) log.insertBefore(render(m), anchor);
        });
        if (!page.has_more && older) older.remove();
      });
  }
  if (older) older.addEventListener("click", function () { loadOlder(); });

  // --- @mentions: the participants' handles, offered while typing "@" ---------------------
  var mentionStart = -1, mentionActive = 0, mentionItems = [];

  function closeMentions() {
    mentionList.hidden = true;
    mentionList.textContent = "";
    mentionItems = [];
    mentionStart = -1;
    input.removeAttribute("aria-activedescendant");
  }

  function pickMention(i) {
    var c = mentionItems[i];
    if (!c) return closeMentions();
    var caret = input.selectionStart;
    var before = input.value.slice(0, mentionStart) + "@" + c.handle + " ";
    input.value = before + input.value.slice(caret);
    input.setSelectionRange(before.length, before.length);
    closeMentions();
    input.focus();
  }

  function highlightMention(i) {
    mentionActive = (i + mentionItems.length) % mentionItems.length;
    Array.prototype.forEach.call(mentionList.children, function (li, n) {
      li.setAttribute("aria-selected", n === mentionActive ? "true" : "false");
    });
    input.setAttribute("aria-activedescendant", "mention-option-" + mentionActive);
  }

  function mentionKey(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      highlightMention(mentionActive + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" || event.key === "Tab") {
      pickMention(mentionActive);
    } else if (event.key === "Escape") {
      closeMentions();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  function updateMentions() {
    var caret = input.selectionStart;
    var match = /(^|[^A-Za-z0-9_.+@-])@([A-Za-z0-9_-]{0,30})$/.exec(input.value.slice(0, caret));
    if (!match || !candidates.length) return closeMentions();
    var typed = match[2].toLowerCase();
    mentionItems = candidates.filter(function (c) {
      return c.handle.indexOf(typed) === 0 || c.name.toLowerCase().indexOf(typed) === 0;
    }).slice(0, 6);
    if (!mentionItems.length) return closeMentions();
    mentionStart = caret - match[2].length - 1;
    mentionList.textContent = "";
    mentionItems.forEach(function (c, n) {
      var li = document.createElement("li");
      li.id = "mention-option-" + n;
      li.setAttribute("role", "option");
      li.setAttribute("data-testid", "mention-option");
      var handle = document.createElement("strong");
      handle.textContent = "@" + c.handle;
      var name = document.createElement("span");
      name.className = "muted";
      name.textContent = " " + c.name;
      li.appendChild(handle);
      li.appendChild(name);
      li.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the focus in the textarea
        pickMention(n);
      });
      mentionList.appendChild(li);
    });
    mentionList.hidden = false;
    highlightMention(0);
  }

  input.addEventListener("input", updateMentions);
  // Close the list when the focus has really left (a click on an option keeps it; a blur
  // followed by a quick return to the input, e.g. after the Reply button, must not close it).
  input.addEventListener("blur", function () {
    setTimeout(function () {
      if (document.activeElement !== input) closeMentions();
    }, 150);
  });
  if (replyTo) setReply(replyTo);

  log.scrollTop = log.scrollHeight;
  updateSeen();
})();
