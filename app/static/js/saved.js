// Saved gigs: the heart's form (the heart macro of app/discovery/templates/discovery/_macros.html) sent with fetch and
// toggled in place, every heart of the same gig on the page with it. Without this script (or if
// the request fails to arrive) the form posts as usual and the server sends the browser back.
(function () {
  "use strict";
  var live;

  function announce(text) {
    if (!live) {
      live = document.createElement("p");
      live.className = "heart-status";
      live.setAttribute("role", "status");
      live.setAttribute("data-testid", "heart-status");
      document.body.appendChild(live);
    }
    live.textContent = text;
    live.classList.add("is-visible");
    window.clearTimeout(live._hide);
    live._hide = window.setTimeout(function () { live.classList.remove("is-visible"); }, 4000);
  }

  function show(form, saved) {
    var label = saved ? "Saved" : "Save";
    form.querySelector("input[name=action]").value = saved ? "unsave" : "save";
    var button = form.querySelector("button");
    button.setAttribute("aria-pressed", saved ? "true" : "false");
    button.setAttribute("title", label);
    button.classList.toggle("is-saved", saved);
    var text = button.querySelector(".heart-label");
    if (text) { text.textContent = label; }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-heart") || !window.fetch || !window.FormData) { return; }
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    // getAttribute: the form's "action" input shadows the form.action property.
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (result) {
      button.disabled = false;
      if (result.status === 401 && result.data.login_url) {
        window.location.assign(result.data.login_url);
      } else if (result.status >= 400) {
        announce(result.data.message || "The gig could not be saved.");
      } else {
        var hearts = document.querySelectorAll("form[data-heart][action='" + form.getAttribute("action") + "']");
        Array.prototype.forEach.call(hearts, function (other) { show(other, result.data.saved); });
        announce(result.data.saved ? "Saved." : "Removed from your saved gigs.");
      }
    }).catch(function () {
      button.disabled = false;
      form.submit();
    });
  });
})();
