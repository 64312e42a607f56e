// The console's dispute page: a live preview of who gets what in a split form (the decision,
// the mediator's proposal). Plain amounts only ("60", "60.50" or "60,50"); the server reads
// and checks every amount itself (app/core/money.py), this only helps while typing.
(function () {
  "use strict";

  function minorOf(text, exponent) {
    var t = (text || "").trim().replace(/\s/g, "");
    if (!t) { return null; }
    if (!/^\d+([.,]\d+)?$/.test(t)) { return NaN; }
    var parts = t.replace(",", ".").split(".");
    var decimals = parts[1] || "";
    if (decimals.length > exponent) { return NaN; }
    while (decimals.length < exponent) { decimals += "0"; }
    return parseInt(parts[0] + decimals, 10);
  }

  function commission(release, bps, minFee) {
    if (release <= 0) { return 0; }
    var percent = Math.floor((release * bps * 2 + 10000) / 20000);
    return Math.min(release, Math.max(percent, minFee));
  }

  function setup(form) {
    var held = parseInt(form.dataset.held, 10);
    var exponent = parseInt(form.dataset.exponent, 10);
    var bps = parseInt(form.dataset.bps, 10);
    var minFee = parseInt(form.dataset.minFee, 10);
    var fmt;
    try {
      fmt = new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "currency", currency: form.dataset.currency });
    } catch (e) {
      fmt = { format: function (v) { return v.toFixed(exponent); } };
    }
    var show = function (minor) { return fmt.format(minor / Math.pow(10, exponent)); };
    var outcome = form.querySelector("select[name$=outcome]");
    var inputs = form.querySelectorAll("input[name$=refund], input[name$=release]");
    var refundInput = inputs[0], releaseInput = inputs[1];
    var preview = form.querySelector("[data-split-preview]");
    if (!outcome || !refundInput || !releaseInput || !preview) { return; }

    function update(source) {
      var refund, release;
      var split = outcome.value === "split";
      refundInput.disabled = releaseInput.disabled = !split || form.querySelector("fieldset[disabled]") !== null;
      if (outcome.value === "refund") { refund = held; release = 0; }
      else if (outcome.value === "release") { refund = 0; release = held; }
      else {
        refund = minorOf(refundInput.value, exponent);
        release = minorOf(releaseInput.value, exponent);
        // Typing one side fills the other with the rest of what is held.
        if (source === refundInput && refund !== null && !isNaN(refund) && refund <= held) {
          release = held - refund; releaseInput.value = (release / Math.pow(10, exponent)).toFixed(exponent);
        } else if (source === releaseInput && release !== null && !isNaN(release) && release <= held) {
          refund = held - release; refundInput.value = (refund / Math.pow(10, exponent)).toFixed(exponent);
        }
      }
      if (refund === null || release === null || isNaN(refund) || isNaN(release)) {
        preview.textContent = "Type the amounts (like 60.00): they must add up to " + show(held) + ".";
        return;
      }
      if (refund + release !== held) {
        preview.textContent = "These add up to " + show(refund + release) + ", not the " + show(held) + " held.";
        return;
      }
      var fee = commission(release, bps, minFee);
      preview.textContent = "The buyer gets " + show(refund) + " back; the seller gets " + show(release) +
        " less " + show(fee) + " commission = " + show(release - fee) + ".";
    }

    outcome.addEventListener("change", function () { update(outcome); });
    refundInput.addEventListener("input", function () { update(refundInput); });
    releaseInput.addEventListener("input", function () { update(releaseInput); });
    update(null);
  }

  document.querySelectorAll("form[data-split-form]").forEach(setup);
})();
