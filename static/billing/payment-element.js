// Stripe's Payment Element on #card-form: confirms a payment (a hold) or a setup (a saved card), as the
// form's data-confirm says, with the client secret and return URL of the #stripe-config JSON.
(function () {
  const form = document.getElementById("card-form");
  const config = JSON.parse(document.getElementById("stripe-config").textContent);
  const submit = document.getElementById("card-submit");
  const errorBox = document.getElementById("card-error");
  const showError = function (text) { errorBox.textContent = text; errorBox.hidden = false; };
  if (typeof Stripe === "undefined") {
    document.getElementById("card-loading").textContent = "";
    submit.hidden = true;
    showError("The payment form could not be loaded (Stripe is unreachable). Please try again later.");
    return;
  }
  const stripe = Stripe(config.publishableKey);
  const elements = stripe.elements({ clientSecret: config.clientSecret });
  const element = elements.create("payment");
  element.on("ready", function () { submit.disabled = false; });
  element.mount("#card-element");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    submit.disabled = true;
    errorBox.hidden = true;
    const confirm = form.dataset.confirm === "setup" ? stripe.confirmSetup : stripe.confirmPayment;
    const result = await confirm.call(stripe, { elements: elements, confirmParams: { return_url: config.returnUrl } });
    if (result.error) {  // otherwise Stripe has sent the browser to returnUrl
      showError(result.error.message);
      submit.disabled = false;
    }
  });
})();
