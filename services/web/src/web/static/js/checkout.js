/* Card entry for the checkout (templates/checkout/pay.html). The form carries the pledge's
   client secret; Stripe.js (the STRIPE_JS_URL setting: real Stripe or localstripe's replacement)
   saves the card with confirmCardSetup, or finishes 3-D Secure with confirmCardPayment, then the
   form is submitted to /pledges/{id}/confirm, where payments re-fetches from Stripe: the
   browser's word is never taken. No inline script (CSP). */
(function () {
  "use strict";

  function whenStripe(callback, waited) {
    if (typeof window.Stripe === "function") { callback(); return; }
    waited = waited || 0;
    if (waited > 15000) { return; }
    window.setTimeout(function () { whenStripe(callback, waited + 50); }, 50);
  }

  function labelInputs(form, mount) {
    // localstripe's card element is plain inputs with placeholders only: give them names.
    // (Real Stripe mounts an iframe that labels its own fields.)
    mount.querySelectorAll("input").forEach(function (input) {
      var key = input.getAttribute("placeholder") || "";
      var label = form.getAttribute("data-label-" + key);
      if (label && !input.getAttribute("aria-label")) {
        input.setAttribute("aria-label", label);
        input.setAttribute("autocomplete", "off");
      }
    });
  }

  function setup(form) {
    if (form.getAttribute("data-ready") === "1") { return; }
    form.setAttribute("data-ready", "1");
    var secret = form.getAttribute("data-client-secret");
    var kind = form.getAttribute("data-intent-kind");
    var stripe = window.Stripe(form.getAttribute("data-publishable-key"));
    var errors = form.querySelector("#card-errors");
    var button = form.querySelector("#card-submit");
    var buttonText = button.textContent;
    var card = null;

    form.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
    var needsJs = document.getElementById("card-needs-js");
    if (needsJs) { needsJs.hidden = true; }
    if (kind === "setup_intent") {
      var mount = form.querySelector("#card-element");
      card = stripe.elements().create("card", { hidePostalCode: false });
      card.mount(mount);
      labelInputs(form, mount);
    }

    function busy(on) {
      button.disabled = on;
      button.textContent = on ? form.getAttribute("data-busy") : buttonText;
    }

    function fail(error) {
      busy(false);
      errors.textContent = (error && error.message) || form.getAttribute("data-failed");
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) { return; }
      errors.textContent = "";
      busy(true);
      var done;
      if (kind === "setup_intent") {
        done = stripe.confirmCardSetup(secret, { payment_method: { card: card } }).then(function (answer) {
          if (answer && answer.error) { fail(answer.error); return; }
          form.submit();
        });
      } else {
        // 3-D Secure: whatever the bank answered, the server re-fetches the payment.
        done = stripe.confirmCardPayment(secret).then(function () { form.submit(); });
      }
      done.catch(fail);
    });
  }

  function start() {
    var form = document.getElementById("card-form");
    if (form) { whenStripe(function () { setup(form); }); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  document.addEventListener("htmx:load", start);
})();
