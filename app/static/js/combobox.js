/* One completion box for every text input that suggests (the header search, city boxes):
   window.gigforgeCombobox(input, options) turns the input into an ARIA 1.2 combobox with a
   listbox under it. Arrow keys move, Enter picks, Escape closes; typing fetches (debounced,
   at least 2 characters, one request at a time) and renders options with textContent only.

   options: url (GET ?q=...), label (the listbox's aria-label), idPrefix, items(json) -> list,
   text(item) -> the option's text, pick(item) (after the box took the text), wrap (true: put
   the input and list in a new .suggest-host div; else the list goes after the input and the
   parent becomes the host), onInput() (each keystroke, before fetching).
   Loaded in <head> with defer, so it runs before the pages' scripts that use it. */
(function () {
  "use strict";
  var counter = 0;

  window.gigforgeCombobox = function (input, options) {
    var listId = (options.idPrefix || "suggest-list") + "-" + (++counter);
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggest-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", options.label || "Suggestions");
    list.hidden = true;
    if (options.wrap) {
      var host = document.createElement("div");
      host.className = "suggest-host";
      input.parentNode.insertBefore(host, input);
      host.appendChild(input);
      host.appendChild(list);
    } else {
      input.insertAdjacentElement("afterend", list);
      if (input.parentElement) { input.parentElement.classList.add("suggest-host"); }
    }
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);

    var active = -1, timer = null, lastQuery = null, controller = null, items = [];

    function optionNodes() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var nodes = optionNodes();
      if (!nodes.length) { return; }
      active = (index + nodes.length) % nodes.length;
      nodes.forEach(function (node, i) { node.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", nodes[active].id);
    }

    function pick(item) {
      input.value = options.text(item);
      lastQuery = input.value;
      close();
      options.pick(item);
    }

    function render(found) {
      items = found;
      list.textContent = "";
      active = -1;
      if (!found.length) { close(); return; }
      found.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = options.text(item);  // never innerHTML: suggestions are user content
        li.addEventListener("mousedown", function (event) { event.preventDefault(); pick(item); });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function fetchItems() {
      var q = input.value.trim();
      if (q.length < 2) { lastQuery = null; close(); return; }
      if (q === lastQuery) { return; }
      lastQuery = q;
      if (controller) { controller.abort(); }
      controller = new AbortController();
      fetch(options.url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" }, signal: controller.signal })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (input.value.trim() === q) { render(data ? options.items(data) : []); } })
        .catch(function () { /* aborted or offline: the typed text still works */ });
    }

    input.addEventListener("input", function () {
      if (options.onInput) { options.onInput(); }
      clearTimeout(timer);
      timer = setTimeout(fetchItems, 150);
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown") { event.preventDefault(); if (open) { highlight(active + 1); } else { lastQuery = null; fetchItems(); } }
      else if (event.key === "ArrowUp" && open) { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && open && active >= 0) { event.preventDefault(); pick(items[active]); }
      else if (event.key === "Escape" && open) { event.preventDefault(); close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  };
})();
