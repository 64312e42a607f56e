/* Live conversation page: Socket.IO chat, typing indicator, read receipts, attachments.
 * Message HTML (body_html) comes from the server, already sanitised (nh3, only <a> and <br>);
 * everything else is inserted as text. */
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

  function render(m) {
    var el = document.createElement("article");
    el.className = "chat-message" + (m.sender_id === me ? " mine" : "") + (m.kind === "system" ? " system" : "");
    el.dataset.messageId = m.id;
    el.setAttribute("data-testid", "message");
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
    var time = document.createElement("time");
    time.className = "muted";
    time.dateTime = m.created_at || "";
    time.textContent = (m.created_at || "").slice(11, 16);
    el.appendChild(time);
    return el;
  }

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
    socket.emit("send_message", payload, function (ack) {
      if (ack && ack.ok) {
        input.value = "";
        pendingAttachments = [];
        pendingEl.hidden = true;
        append(ack.message);
        clearTimeout(typingTimer);
        typingSentAt = 0;
        sendTyping(false);
      } else if (ack && ack.error) {
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
  if (older) {
    older.addEventListener("click", function () {
      var first = log.querySelector(".chat-message");
      var url = root.dataset.historyUrl + (first ? "?before_id=" + first.dataset.messageId : "");
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (page) {
          var anchor = log.querySelector(".chat-message");
          page.items.forEach(function (m) {
            if (!log.querySelector('[data-message-id="' + m.id + '"]')) log.insertBefore(render(m), anchor);
          });
          if (!page.has_more) older.remove();
        });
    });
  }

  log.scrollTop = log.scrollHeight;
  updateSeen();
})();
