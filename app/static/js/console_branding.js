/* Console branding page: a live preview of name, words, colours and logo before saving.
   Colour pickers and their #rrggbb text fields stay in step; the preview block takes its
   colours from CSS variables set here (CSSOM, which the page's CSP allows). Nothing is
   saved until the form is submitted. */
(function () {
  "use strict";
  var HEX = /^#[0-9a-fA-F]{6}$/;
  var preview = document.getElementById("brand-preview");
  if (!preview) { return; }
  var contrastNote = document.querySelector("[data-preview-contrast]");

  function luminance(hex) {
    var channels = [1, 3, 5].map(function (i) {
      var v = parseInt(hex.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
  }

  function contrastWithWhite(hex) { return 1.05 / (luminance(hex) + 0.05); }

  function updateContrast() {
    if (!contrastNote) { return; }
    var notes = [];
    ["primary_color", "accent_color"].forEach(function (id) {
      var input = document.getElementById(id);
      if (input && HEX.test(input.value)) {
        var ratio = contrastWithWhite(input.value);
        if (ratio < 3) {
          notes.push("White text on " + input.value + " is hard to read (contrast " + ratio.toFixed(2) + ":1; aim for 3:1 or more).");
        }
      }
    });
    contrastNote.textContent = notes.join(" ");
  }

  function applyColour(input) {
    var variable = input.id === "primary_color" ? "--preview-primary" : "--preview-accent";
    var value = input.value.trim();
    var valid = HEX.test(value);
    input.setAttribute("aria-invalid", valid ? "false" : "true");
    if (valid) {
      preview.style.setProperty(variable, value);
      var picker = document.querySelector('[data-color-for="' + input.id + '"]');
      if (picker && picker.value.toLowerCase() !== value.toLowerCase()) { picker.value = value.toLowerCase(); }
    }
    updateContrast();
  }

  document.querySelectorAll("[data-color-for]").forEach(function (picker) {
    var text = document.getElementById(picker.getAttribute("data-color-for"));
    if (!text) { return; }
    picker.addEventListener("input", function () {
      text.value = picker.value;
      applyColour(text);
    });
    text.addEventListener("input", function () { applyColour(text); });
  });

  document.querySelectorAll("[data-preview]").forEach(function (input) {
    var target = preview.querySelector('[data-preview-text="' + input.getAttribute("data-preview") + '"]');
    if (!target) { return; }
    input.addEventListener("input", function () { target.textContent = input.value; });
  });

  var logoInput = document.querySelector("[data-preview-logo-input]");
  var logo = preview.querySelector("[data-preview-logo]");
  if (logoInput && logo) {
    logoInput.addEventListener("change", function () {
      var file = logoInput.files && logoInput.files[0];
      if (!file || !/^image\//.test(file.type)) { return; }
      var reader = new FileReader();  // a data: URL (the CSP allows data: images, not blob:)
      reader.addEventListener("load", function () {
        logo.src = reader.result;
        logo.hidden = false;
      });
      reader.readAsDataURL(file);
    });
  }
  updateContrast();
})();
