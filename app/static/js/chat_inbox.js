/* Inbox page: live unread badges per conversation and in the header. */
(function () {
  "use strict";
  if (typeof io === "undefined") return;
  var list = document.querySelector("[data-testid=inbox]");
  var socket = io({ transports: ["websocket", "polling"], tryAllTransports: true });

  function setBadge(el, count) {
    if (!el) return;
    el.textContent = count;
    el.dataset.unread = count;
    el.hidden = !count;
  }

  socket.on("unread", function (u) {
    setBadge(document.querySelector("[data-testid=inbox-badge]"), u.total);
    if (!list || u.conversation_id === undefined) return;
    var row = list.querySelector('[data-conversation-id="' + u.conversation_id + '"]');
    if (!row) {
      window.location.reload(); // a conversation this page does not show yet
      return;
    }
    setBadge(row.querySelector("[data-testid=unread-badge]"), u.unread);
    row.classList.toggle("has-unread", u.unread > 0);
    if (row.parentNode.firstElementChild !== row) row.parentNode.insertBefore(row, row.parentNode.firstElementChild);
  });
})();
