// The search page's filters fold behind a "Filters" button on a phone (the CSS hides them while
// <html> has "has-menu-js", set by menu.js before the page paints); without JavaScript they stay open.
(function () {
  "use strict";
  document.querySelectorAll("[data-filters-toggle]").forEach(function (button) {
    var panel = button.closest(".search-filters");
    if (!panel) { return; }
    button.setAttribute("aria-controls", panel.id);
    button.addEventListener("click", function () {
      var open = !panel.classList.contains("filters-open");
      panel.classList.toggle("filters-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
})();
