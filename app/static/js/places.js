/* Place boxes (#18): city completion, "Use my location", the gig form's online / on-site switch.

   - <input data-places-url="/places/suggest" data-place-id-input="ID">: a listbox of cities
     (ARIA 1.2 combobox: arrow keys move, Enter picks, Escape closes). Picking one writes its
     label into the box and its GeoNames id into the hidden input ID (cleared as soon as the
     text is edited: the server then resolves the text itself, so the box works without JS).
   - <button data-locate data-lat-input="ID" data-lng-input="ID" data-near-input="ID">: asks the
     browser for its position ONLY when clicked (never on load), fills the hidden lat/lng, empties
     the city box and says "Your location" in [data-locate-status]. Typing a city drops the point.
   - [data-gig-location]: the place and radius show only while "On site" is picked. */
(function () {
  "use strict";
  var counter = 0;

  function byId(id) { return id ? document.getElementById(id) : null; }

  // A search form's "Sort by" offers "Distance" once there is a place to measure from.
  function offerDistanceSort(form) {
    var sort = form && form.querySelector("select[name=sort]");
    if (sort && !sort.querySelector("option[value=distance]")) {
      var option = document.createElement("option");
      option.value = "distance";
      option.textContent = "Distance";
      sort.appendChild(option);
    }
  }

  function setupPlaces(input) {
    var hiddenId = byId(input.getAttribute("data-place-id-input"));
    var listId = "places-list-" + (++counter);
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggest-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Cities");
    list.hidden = true;
    var host = document.createElement("div");
    host.className = "suggest-host";
    input.parentNode.insertBefore(host, input);
    host.appendChild(input);
    host.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);

    var active = -1, timer = null, lastQuery = null, controller = null, items = [];

    function options() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var opts = options();
      if (!opts.length) { return; }
      active = (index + opts.length) % opts.length;
      opts.forEach(function (opt, i) { opt.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", opts[active].id);
    }

    function pick(item) {
      input.value = item.label;
      lastQuery = item.label;
      if (hiddenId) { hiddenId.value = String(item.id); }
      close();
      offerDistanceSort(input.form);
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
        li.textContent = item.label;  // never innerHTML
        li.addEventListener("mousedown", function (event) { event.preventDefault(); pick(item); });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function fetchPlaces() {
      var q = input.value.trim();
      if (q.length < 2) { lastQuery = null; close(); return; }
      if (q === lastQuery) { return; }
      lastQuery = q;
      if (controller) { controller.abort(); }
      controller = new AbortController();
      var url = input.getAttribute("data-places-url") + "?q=" + encodeURIComponent(q);
      fetch(url, { headers: { Accept: "application/json" }, signal: controller.signal })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (found) { if (input.value.trim() === q) { render(Array.isArray(found) ? found : []); } })
        .catch(function () { /* aborted or offline: the typed text still works */ });
    }

    input.addEventListener("input", function () {
      if (hiddenId) { hiddenId.value = ""; }
      clearTimeout(timer);
      timer = setTimeout(fetchPlaces, 150);
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown") { event.preventDefault(); if (open) { highlight(active + 1); } else { lastQuery = null; fetchPlaces(); } }
      else if (event.key === "ArrowUp" && open) { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && open && active >= 0) { event.preventDefault(); pick(items[active]); }
      else if (event.key === "Escape" && open) { event.preventDefault(); close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  function setupLocate(button) {
    var lat = byId(button.getAttribute("data-lat-input"));
    var lng = byId(button.getAttribute("data-lng-input"));
    var near = byId(button.getAttribute("data-near-input"));
    var scope = button.closest("form") || document;
    var status = scope.querySelector("[data-locate-status]");
    // The button is rendered hidden: it does nothing without this script or a geolocation API.
    if (!("geolocation" in navigator) || !lat || !lng) { return; }
    button.hidden = false;

    function say(text) { if (status) { status.textContent = text; status.hidden = !text; } }

    button.addEventListener("click", function () {
      button.disabled = true;
      say("Finding you…");
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(5);
        lng.value = position.coords.longitude.toFixed(5);
        if (near) { near.value = ""; near.placeholder = "Your location"; }
        offerDistanceSort(near && near.form);
        button.disabled = false;
        say("Your location");
        button.dispatchEvent(new CustomEvent("place:located", { bubbles: true }));
      }, function () {
        button.disabled = false;
        say("We could not get your location. Type a city instead.");
      }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 });
    });
    if (near) {
      near.addEventListener("input", function () {
        if (lat.value || lng.value) { lat.value = ""; lng.value = ""; near.placeholder = "City"; say(""); }
      });
    }
  }

  function setupGigLocation(fieldset) {
    var place = fieldset.querySelector("[data-on-site-only]");
    var radios = fieldset.querySelectorAll("input[type=radio]");
    if (!place || !radios.length) { return; }
    function sync() {
      var onSite = Array.prototype.some.call(radios, function (r) { return r.checked && r.value === "on_site"; });
      place.hidden = !onSite;
    }
    radios.forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  }

  document.querySelectorAll("input[data-places-url]").forEach(setupPlaces);
  document.querySelectorAll("[data-locate]").forEach(setupLocate);
  document.querySelectorAll("[data-gig-location]").forEach(setupGigLocation);
})();
