// Bot protection's browser check (app/accounts/bot.py): find a nonce such that
// SHA-256(challenge + nonce) starts with `bits` zero bits. Solving starts when the page loads,
// in chunks of parallel WebCrypto digests, so the page stays responsive; a submit before it is
// done waits ("Checking your browser…") and then goes through on its own.
(function () {
  "use strict";
  var encoder = new TextEncoder();

  function zeroBits(buffer) {
    var bytes = new Uint8Array(buffer), count = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { count += 8; continue; }
      var b = bytes[i];
      while ((b & 0x80) === 0) { count++; b <<= 1; }
      break;
    }
    return count;
  }

  function solve(challenge, bits) {
    var CHUNK = 256;
    return new Promise(function (resolve, reject) {
      var start = 0;
      function round() {
        var jobs = [];
        for (var i = start; i < start + CHUNK; i++) {
          jobs.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + i)));
        }
        Promise.all(jobs).then(function (digests) {
          for (var j = 0; j < digests.length; j++) {
            if (zeroBits(digests[j]) >= bits) { resolve(String(start + j)); return; }
          }
          start += CHUNK;
          setTimeout(round, 0); // yield to the page between chunks
        }, reject);
      }
      round();
    });
  }

  document.querySelectorAll("input[name=bot_challenge]").forEach(function (input) {
    var form = input.form;
    if (!form) return;
    var nonceInput = form.querySelector("input[name=bot_nonce]");
    var status = form.querySelector("[data-bot-status]");
    var bits = parseInt(input.getAttribute("data-bot-bits"), 10) || 0;
    var waiting = false;
    var solved = null;

    if (!(window.crypto && crypto.subtle)) {
      if (status) status.textContent = "This browser cannot run the security check on this connection.";
      return;
    }
    var work = solve(input.value, bits).then(function (nonce) {
      nonceInput.value = nonce;
      solved = nonce;
      form.setAttribute("data-bot-solved", "true");
      return nonce;
    });

    form.addEventListener("submit", function (event) {
      if (solved !== null) return; // done: submit as usual
      event.preventDefault();
      if (waiting) return;
      waiting = true;
      var buttons = form.querySelectorAll("button[type=submit], input[type=submit]");
      buttons.forEach(function (button) {
        button.disabled = true;
        button.setAttribute("data-label", button.textContent);
        button.textContent = "Checking your browser…";
      });
      if (status) status.textContent = "Checking your browser…";
      work.then(function () {
        if (status) status.textContent = "";
        buttons.forEach(function (button) {
          button.disabled = false;
          button.textContent = button.getAttribute("data-label");
        });
        form.submit();
      });
    });
  });
})();
