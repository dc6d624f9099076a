"""A minimal stand-in for Stripe.js v3, served by the double at GET /v3/ (what STRIPE_JS_URL names).

It implements what the portal's pages use: `Stripe(pk)`, `elements({clientSecret})`,
`create("payment")` with `on("ready")` and `mount(el)`, and `confirmPayment` / `confirmSetup`
(`{elements, confirmParams: {return_url}, redirect}`), and `confirmCardPayment(clientSecret,
{payment_method})`, whose 3-D Secure challenge always passes (the double's `/authenticate` control).
The mounted element is a choice of test cards
(`pm_card_visa`, a declining one, ...). Confirming calls the double's API from the browser the way
Stripe.js does (the publishable key and the intent's client secret, form-encoded, no secret key),
then, like Stripe, sends the browser to return_url with the intent's id and client secret, or resolves
with `{error}` when the card is declined.
"""

from __future__ import annotations

STRIPE_JS = r"""
(function () {
  var API = "__API__";
  var CARDS = [
    ["pm_card_visa", "Visa 4242 (succeeds)"],
    ["pm_card_mastercard", "Mastercard 4444 (succeeds)"],
    ["pm_card_chargeDeclined", "Visa 0002 (declined)"],
    ["pm_card_chargeDeclinedInsufficientFunds", "Visa 9995 (insufficient funds)"]
  ];
  function form(data) {
    return Object.keys(data).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(data[k]);
    }).join("&");
  }
  function Elements(stripe, options) {
    this.stripe = stripe;
    this.clientSecret = options.clientSecret;
    this.element = null;
  }
  Elements.prototype.create = function (type) {
    var handlers = {};
    var element = {
      type: type,
      select: null,
      on: function (name, fn) { handlers[name] = fn; return element; },
      mount: function (target) {
        var el = typeof target === "string" ? document.querySelector(target) : target;
        el.innerHTML = "";
        var label = document.createElement("label");
        label.textContent = "Test card";
        label.setAttribute("for", "double-card");
        var select = document.createElement("select");
        select.id = "double-card";
        select.name = "double-card";
        CARDS.forEach(function (card) {
          var option = document.createElement("option");
          option.value = card[0];
          option.textContent = card[1];
          select.appendChild(option);
        });
        el.appendChild(label);
        el.appendChild(select);
        element.select = select;
        setTimeout(function () { if (handlers.ready) { handlers.ready({}); } }, 0);
      }
    };
    this.element = element;
    return element;
  };
  function confirm(kind, stripe, params) {
    var elements = params.elements;
    var secret = elements.clientSecret;
    var id = secret.split("_secret_")[0];
    var select = elements.element && elements.element.select;
    var method = select ? select.value : "pm_card_visa";
    var returnUrl = (params.confirmParams || {}).return_url;
    return fetch(API + "/v1/" + kind + "s/" + id + "/confirm", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form({
        key: stripe.key, client_secret: secret, payment_method: method, return_url: returnUrl || ""
      })
    }).then(function (response) {
      return response.json();
    }).then(function (body) {
      if (body.error) { return { error: body.error }; }
      if (params.redirect === "if_required" && body.status !== "requires_action") {
        var result = {};
        result[kind] = body;
        return result;
      }
      var failed = body.status === "requires_payment_method";
      var query = kind + "=" + encodeURIComponent(body.id) + "&" + kind + "_client_secret=" +
        encodeURIComponent(secret) + "&redirect_status=" + (failed ? "failed" : "succeeded");
      window.location.assign(returnUrl + (returnUrl.indexOf("?") === -1 ? "?" : "&") + query);
      return new Promise(function () {});
    });
  }
  function post(path, data) {
    return fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form(data)
    }).then(function (response) { return response.json(); });
  }
  function confirmCard(stripe, secret, data) {
    var id = secret.split("_secret_")[0];
    var params = { key: stripe.key, client_secret: secret };
    if (data && data.payment_method) { params.payment_method = data.payment_method; }
    return post("/v1/payment_intents/" + id + "/confirm", params).then(function (body) {
      if (body.error) { return { error: body.error }; }
      if (body.status !== "requires_action") { return { paymentIntent: body }; }
      return post("/_double/payment_intents/" + id + "/authenticate", { result: "succeeded" });
    }).then(function (body) {
      if (body.error) { return { error: body.error }; }
      if (body.paymentIntent) { return body; }
      if (body.last_payment_error) { return { error: body.last_payment_error }; }
      return { paymentIntent: body };
    });
  }
  window.Stripe = function (key) {
    return {
      key: key,
      elements: function (options) { return new Elements(this, options || {}); },
      confirmPayment: function (params) { return confirm("payment_intent", this, params); },
      confirmSetup: function (params) { return confirm("setup_intent", this, params); },
      confirmCardPayment: function (secret, data) { return confirmCard(this, secret, data); }
    };
  };
})();
"""


def stripe_js(api_base: str) -> bytes:
    """The script, calling the double at `api_base`."""
    return STRIPE_JS.replace("__API__", api_base).encode()
