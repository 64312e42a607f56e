/* The contract workroom (app/workroom): the kanban board's drag and drop with Pointer Events
 * (mouse, pen and touch alike), live updates from the other party over Socket.IO, the calendar's
 * timezone and the feed's copy button. Without JavaScript the page still works: the cards' arrow
 * buttons and every form post normally. */
(function () {
  "use strict";
  var root = document.querySelector("[data-testid=workroom]");
  if (!root) return;
  var contractId = Number(root.dataset.contractId);
  var csrf = root.dataset.csrfToken;
  var writable = root.dataset.writable === "true";
  var live = root.querySelector("[data-testid=live-status]");

  // Calendar: show times in the browser's timezone (the server renders ?tz=).
  if (root.dataset.tab === "calendar") {
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
    var params = new URLSearchParams(location.search);
    if (tz && !params.get("tz")) {
      params.set("tz", tz);
      location.replace(location.pathname + "?" + params.toString());
      return;
    }
    var copy = root.querySelector("[data-copy-feed]");
    if (copy) copy.addEventListener("click", function () {
      var input = root.querySelector("[data-testid=ics-url]");
      input.select();
      if (navigator.clipboard) navigator.clipboard.writeText(input.value);
      copy.textContent = "Copied";
    });
  }

  var board = root.querySelector("[data-testid=kanban]");
  if (!board) return;

  function column(status) { return board.querySelector(".kanban-cards[data-status=" + status + "]"); }
  function card(id) { return board.querySelector(".kanban-card[data-task-id='" + Number(id) + "']"); }
  function setLive(text) { if (live) live.textContent = text; }
  function recount() {
    board.querySelectorAll(".kanban-column").forEach(function (col) {
      col.querySelector(".kanban-count").textContent = col.querySelectorAll(".kanban-card").length;
    });
  }

  /* Put the cards of each column given in the order given (the server's order after a change). */
  function applyColumns(columns, movedId) {
    Object.keys(columns || {}).forEach(function (status) {
      var list = column(status);
      if (!list) return;
      columns[status].forEach(function (id) {
        var node = card(id);
        if (node) { node.dataset.status = status; list.appendChild(node); }
      });
    });
    board.querySelectorAll(".kanban-card").forEach(function (node) {
      var status = node.dataset.status;
      if (columns[status] && columns[status].indexOf(Number(node.dataset.taskId)) === -1 && !columnsHave(columns, node)) node.remove();
    });
    var moved = movedId && card(movedId);
    if (moved) { moved.classList.remove("flash"); void moved.offsetWidth; moved.classList.add("flash"); }
    recount();
  }
  function columnsHave(columns, node) {
    var id = Number(node.dataset.taskId);
    return Object.keys(columns).some(function (s) { return columns[s].indexOf(id) !== -1; });
  }

  /* A card added or edited elsewhere: take the board as the server renders it now. */
  function reloadBoard() {
    fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.querySelector("[data-testid=kanban]");
      if (fresh) { board.innerHTML = fresh.innerHTML; }
    });
  }

  // --- live updates -------------------------------------------------------------------
  if (typeof io !== "undefined") {
    var socket = io({ transports: ["websocket", "polling"], tryAllTransports: true });
    socket.on("connect", function () {
      socket.emit("join_workroom", { contract_id: contractId }, function (ack) {
        setLive(ack && ack.ok ? "Live" : "");
        root.dataset.live = ack && ack.ok ? "joined" : "refused";
      });
    });
    socket.on("disconnect", function () { setLive("Reconnecting…"); });
    socket.on("task", function (data) {
      if (!data || data.contract_id !== contractId) return;
      if (data.action === "moved" || data.action === "deleted") applyColumns(data.columns, data.task && data.task.id);
      else reloadBoard();
    });
  }

  if (!writable) return;

  // --- drag and drop (Pointer Events) -------------------------------------------------
  var drag = null;
  var INTERACTIVE = "button, a, input, select, textarea, summary, details, form";

  board.addEventListener("pointerdown", function (event) {
    var node = event.target.closest(".kanban-card");
    if (!node || event.button > 0 || event.target.closest(INTERACTIVE)) return;
    drag = { node: node, id: Number(node.dataset.taskId), x: event.clientX, y: event.clientY, started: false, pointer: event.pointerId };
  });

  function start() {
    var node = drag.node;
    var rect = node.getBoundingClientRect();
    drag.placeholder = document.createElement("li");
    drag.placeholder.className = "kanban-placeholder";
    drag.placeholder.style.height = rect.height + "px";
    node.parentNode.insertBefore(drag.placeholder, node);
    drag.offsetX = drag.x - rect.left;
    drag.offsetY = drag.y - rect.top;
    node.classList.add("dragging");
    node.style.width = rect.width + "px";
    node.style.position = "fixed";
    node.style.left = rect.left + "px";
    node.style.top = rect.top + "px";
    node.style.pointerEvents = "none";
    try { node.setPointerCapture(drag.pointer); } catch (e) { /* not captured: document events still arrive */ }
    drag.started = true;
  }

  document.addEventListener("pointermove", function (event) {
    if (!drag) return;
    if (!drag.started) {
      if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) < 6) return;
      start();
    }
    event.preventDefault();
    drag.node.style.left = (event.clientX - drag.offsetX) + "px";
    drag.node.style.top = (event.clientY - drag.offsetY) + "px";
    var under = document.elementFromPoint(event.clientX, event.clientY);
    var col = under && under.closest(".kanban-column");
    if (!col) return;
    var list = col.querySelector(".kanban-cards");
    var cards = Array.prototype.filter.call(list.querySelectorAll(".kanban-card"), function (n) { return n !== drag.node; });
    var before = null;
    for (var i = 0; i < cards.length; i++) {
      var r = cards[i].getBoundingClientRect();
      if (event.clientY < r.top + r.height / 2) { before = cards[i]; break; }
    }
    list.insertBefore(drag.placeholder, before);
  }, { passive: false });

  function finish(cancelled) {
    var d = drag;
    drag = null;
    if (!d || !d.started) return;
    var node = d.node;
    node.classList.remove("dragging");
    node.style.position = node.style.left = node.style.top = node.style.width = node.style.pointerEvents = "";
    var list = d.placeholder.parentNode;
    list.insertBefore(node, d.placeholder);
    d.placeholder.remove();
    if (cancelled) { location.reload(); return; }
    var status = list.dataset.status;
    node.dataset.status = status;
    recount();
    var prev = node.previousElementSibling, next = node.nextElementSibling;
    var body = { status: status };
    if (prev && prev.dataset.taskId) body.after_id = Number(prev.dataset.taskId);
    else if (next && next.dataset.taskId) body.before_id = Number(next.dataset.taskId);
    setLive("Saving…");
    fetch("/contracts/" + contractId + "/workroom/tasks/" + d.id + "/move", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      if (!r.ok) throw new Error("refused");
      setLive("Saved");
      root.dataset.lastMove = String(d.id);
    }).catch(function () { location.reload(); });
  }
  document.addEventListener("pointerup", function () { finish(false); });
  document.addEventListener("pointercancel", function () { finish(true); });
})();
