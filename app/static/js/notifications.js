/* The header bell: dropdown toggle, live `notification` / `unread_count` pushes over Socket.IO,
 * "mark all read" and marking an item read when it is opened. All text is inserted as text. */
(function () {
  "use strict";
  var bell = document.querySelector("[data-testid=notification-bell]");
  if (!bell) return;
  var button = bell.querySelector(".notif-bell-button");
  var dropdown = bell.querySelector(".notif-dropdown");
  var badge = bell.querySelector("[data-testid=notification-badge]");
  var list = bell.querySelector(".notif-items");
  var markAll = bell.querySelector(".notif-mark-all");
  var MAX_ITEMS = 10;

  function setCount(n) {
    n = Number(n) || 0;
    badge.textContent = String(n);
    badge.hidden = n === 0;
    bell.dataset.unread = String(n);
  }

  function post(ids, all) {
    return fetch(bell.dataset.readUrl, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": bell.dataset.csrf },
      body: JSON.stringify(all ? { all: true } : { ids: ids })
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      if (body) setCount(body.unread_count);
      return body;
    });
  }

  function itemFor(n) {
    var li = document.createElement("li");
    li.className = "notif-item" + (n.read ? "" : " unread");
    li.dataset.id = n.id;
    li.setAttribute("data-testid", "notification-item");
    var a = document.createElement("a");
    a.href = n.url || "/notifications";
    a.textContent = n.text;
    li.appendChild(a);
    return li;
  }

  function open(show) {
    dropdown.hidden = !show;
    button.setAttribute("aria-expanded", show ? "true" : "false");
  }

  button.addEventListener("click", function (e) {
    e.preventDefault();
    open(dropdown.hidden);
  });
  document.addEventListener("click", function (e) {
    if (!dropdown.hidden && !bell.contains(e.target)) open(false);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !dropdown.hidden) { open(false); button.focus(); }
  });

  list.addEventListener("click", function (e) {
    var li = e.target.closest(".notif-item.unread");
    if (li) { li.classList.remove("unread"); post([Number(li.dataset.id)], false); }
  });

  markAll.addEventListener("submit", function (e) {
    e.preventDefault();
    post(null, true).then(function (body) {
      if (!body) return;
      list.querySelectorAll(".notif-item.unread").forEach(function (li) { li.classList.remove("unread"); });
    });
  });

  if (typeof io === "undefined") return;
  var socket = io({ transports: ["websocket", "polling"], tryAllTransports: true });
  socket.on("notification", function (n) {
    var empty = list.querySelector(".notif-empty");
    if (empty) empty.remove();
    list.insertBefore(itemFor(n), list.firstChild);
    while (list.children.length > MAX_ITEMS) list.removeChild(list.lastChild);
  });
  socket.on("unread_count", function (u) { setCount(u && u.count); });
})();
