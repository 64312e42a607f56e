// The hire form: show the hourly terms or the milestones for the chosen payment model, and
// pick the browser's time zone when the form has none yet. Without JS both parts show.
(function () {
  var form = document.querySelector('[data-testid="hire-form"]');
  if (!form) return;
  var radios = form.querySelectorAll('input[name="payment_model"]');
  function show() {
    var chosen = form.querySelector('input[name="payment_model"]:checked');
    var model = chosen ? chosen.value : "fixed";
    form.querySelectorAll("[data-model]").forEach(function (part) {
      part.hidden = part.getAttribute("data-model") !== model;
    });
  }
  radios.forEach(function (radio) { radio.addEventListener("change", show); });
  show();
  var zone = form.querySelector("select[data-browser-default]");
  if (zone && window.Intl && Intl.DateTimeFormat) {
    var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (mine && !Array.prototype.some.call(zone.options, function (o) { return o.value === mine; })) {
      var option = document.createElement("option");
      option.value = mine;
      option.textContent = mine.replace(/_/g, " ");
      zone.appendChild(option);
    }
    if (mine) zone.value = mine;
  }
})();
