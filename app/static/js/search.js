/* Search-box autocomplete: every <input data-suggest-url> completes from that URL (combobox.js);
   picking a suggestion submits the search. */
(function () {
  "use strict";
  document.querySelectorAll("input[data-suggest-url]").forEach(function (input) {
    window.gigforgeCombobox(input, {
      url: input.getAttribute("data-suggest-url"),
      label: "Suggestions",
      idPrefix: "suggest-list",
      items: function (data) { return data.suggestions || []; },
      text: function (suggestion) { return suggestion; },
      pick: function () {
        var form = input.form;
        if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
      },
    });
  });
})();
