// Ask before an action that moves money or cannot be undone (see app/core/confirm.py).
// A form (or its submit button) marked data-confirm="what happens" opens a <dialog>;
// its confirm button sends the form with confirm=yes. Without this script the server
// shows a confirmation page instead, so nothing happens on one click either way.
(function () {
  "use strict";
  var dialog, titleEl, messageEl, yesButton, pending;

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
    dialog.setAttribute("aria-describedby", "confirm-dialog-message");
    dialog.setAttribute("data-testid", "confirm-dialog");
    dialog.innerHTML =
      '<h2 id="confirm-dialog-title"></h2><p id="confirm-dialog-message"></p>' +
      '<div class="confirm-actions"><button type="button" class="button button-danger" data-testid="confirm-dialog-yes"></button>' +
      '<button type="button" class="button" data-testid="confirm-dialog-cancel">Go back</button></div>';
    document.body.appendChild(dialog);
    titleEl = dialog.querySelector("h2");
    messageEl = dialog.querySelector("p");
    yesButton = dialog.querySelector("[data-testid=confirm-dialog-yes]");
    dialog.querySelector("[data-testid=confirm-dialog-cancel]").addEventListener("click", function () {
      dialog.close();
    });
    yesButton.addEventListener("click", function () {
      var form = pending && pending.form;
      if (!form) { return; }
      var field = form.querySelector("input[name=confirm]");
      if (!field) {
        field = document.createElement("input");
        field.type = "hidden";
        field.name = "confirm";
        form.appendChild(field);
      }
      field.value = "yes";
      dialog.close();
      if (pending.submitter && form.requestSubmit) {
        form.requestSubmit(pending.submitter);
      } else {
        form.submit();
      }
    });
    dialog.addEventListener("close", function () {
      if (pending && pending.submitter) { pending.submitter.focus(); }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    var source = submitter && submitter.hasAttribute("data-confirm") ? submitter : form;
    if (!source.hasAttribute || !source.hasAttribute("data-confirm")) { return; }
    var field = form.querySelector("input[name=confirm]");
    if (field && field.value === "yes") { return; }
    if (typeof HTMLDialogElement === "undefined") { return; } // the server's page asks instead
    event.preventDefault();
    if (!dialog) { build(); }
    pending = { form: form, submitter: submitter };
    titleEl.textContent = source.getAttribute("data-confirm-title") || "Are you sure?";
    messageEl.textContent = source.getAttribute("data-confirm");
    yesButton.textContent = source.getAttribute("data-confirm-button") || "Yes, go ahead";
    dialog.showModal();
    yesButton.focus();
  }, true);
})();
