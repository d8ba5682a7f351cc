// Coffee Radar: the card form of the pay page, with Stripe.js. The card goes from the
// shopper's browser to Stripe, which hands back a token; the page posts the token's card
// to the shop, whose server confirms the payment itself. When the card asks for 3-D
// Secure, the shop sends the page back with the intent's client secret: Stripe.js runs
// the check, then the page asks the shop to look at the payment again.
(function () {
  "use strict";

  var form = document.getElementById("pay-form");
  var check = document.getElementById("payment-check");
  if (!form || typeof Stripe !== "function") return;

  var status = document.getElementById("card-status");
  var button = form.querySelector("button[type=submit]");
  var stripe = Stripe(form.dataset.publishableKey);

  function say(message) {
    status.textContent = message || "";
  }

  if (form.dataset.stage === "authenticate") {
    say("Your bank asks you to confirm this payment.");
    stripe.confirmCardPayment(form.dataset.clientSecret).then(function (result) {
      if (result.error) say(result.error.message);
      check.submit();
    });
    return;
  }

  var card = stripe.elements().create("card");
  card.mount("#card-element");
  button.disabled = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    say("");
    stripe.createToken(card).then(function (result) {
      if (result.error || !result.token) {
        say((result.error && result.error.message) || "Your card could not be read. Check it and try again.");
        button.disabled = false;
        return;
      }
      form.elements.payment_method.value = result.token.card.id;
      form.submit();
    });
  });
})();
