// The header menu folds behind a button on narrow screens. Loaded in <head> (not deferred) so the
// "has-menu-js" class is set before the header paints; without JavaScript the menu simply stays open.
(function () {
  "use strict";
  document.documentElement.classList.add("has-menu-js");

  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    var header = button.closest(".site-header");
    if (header) header.classList.toggle("menu-open", open);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-menu-toggle]");
    if (button) setOpen(button, button.getAttribute("aria-expanded") !== "true");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var button = document.querySelector('[data-menu-toggle][aria-expanded="true"]');
    if (button) {
      setOpen(button, false);
      button.focus();
    }
  });
})();
