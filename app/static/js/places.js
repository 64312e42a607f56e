/* Place boxes (#18): city completion, "Use my location", the gig form's online / on-site switch.

   - <input data-places-url="/places/suggest" data-place-id-input="ID">: a listbox of cities
     (combobox.js: arrow keys move, Enter picks, Escape closes). Picking one writes its
     label into the box and its GeoNames id into the hidden input ID (cleared as soon as the
     text is edited: the server then resolves the text itself, so the box works without JS).
   - <button data-locate data-lat-input="ID" data-lng-input="ID" data-near-input="ID">: asks the
     browser for its position ONLY when clicked (never on load), fills the hidden lat/lng, empties
     the city box and says "Your location" in [data-locate-status]. Typing a city drops the point.
   - [data-gig-location]: the place and radius show only while "On site" is picked. */
(function () {
  "use strict";

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
    window.gigforgeCombobox(input, {
      url: input.getAttribute("data-places-url"),
      label: "Cities",
      idPrefix: "places-list",
      wrap: true,
      items: function (found) { return Array.isArray(found) ? found : []; },
      text: function (city) { return city.label; },
      pick: function (city) {
        if (hiddenId) { hiddenId.value = String(city.id); }
        offerDistanceSort(input.form);
      },
      onInput: function () { if (hiddenId) { hiddenId.value = ""; } },
    });
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
