"""A stateful HTTP double of the Stripe API subset the gateway calls, for tests that must not reach Stripe.

It answers form-encoded requests the way api.stripe.com does for these endpoints: customers, setup
intents (create, confirm, retrieve), payment methods (attach, list, retrieve, detach), payment intents
(create with or without confirm, off-session, manual capture, capture of a part releasing the rest,
cancel, retrieve with `expand[]=latest_charge`), refunds and events. Errors have Stripe's JSON shape
and HTTP codes (402 card errors, 400 invalid requests and wrong states, 404 missing objects, 401 bad
keys); a repeated Idempotency-Key replays the first answer (errors included) and refuses other params.

Test payment methods behave like Stripe's test tokens: each use of `pm_card_visa` and friends makes a
new `pm_…` card. `pm_card_chargeDeclined` is refused on attach, setup and charge;
`pm_card_chargeCustomerFail` attaches but every charge is declined; `pm_card_authenticationRequired`
needs 3-D Secure on every payment (off-session: a 402 `authentication_required`); a payment with
`pm_card_createDispute` succeeds and is disputed at once.

State changes append events (`GET /v1/events`, newest first) shaped like Stripe's, which tests sign and
post to the webhook. Two controls only a double has: `POST /_double/disputes/<id>/close` (status won or
lost), `POST /_double/payment_intents/<id>/expire` (an authorization that lapsed) and
`POST /_double/payment_intents/<id>/authenticate` (result succeeded or failed: the driver's 3-D Secure).

For browser tests it also serves a stand-in for Stripe.js at `GET /v3/` (tests/stripe_double/stripe_js.py),
answers CORS, and lets the browser confirm an intent with a publishable key and the intent's client
secret, as Stripe.js does.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.stripe_double.stripe_js import stripe_js

API_VERSION = "2025-01-27.acacia"


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    behaviour: str = "ok"  # ok | decline_always | decline_charge | authenticate | dispute
    decline_code: str = "generic_decline"


TEST_TOKENS = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", "decline_always"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "decline_always", "insufficient_funds"
    ),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", "decline_charge"),
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authenticate"),
    "pm_card_createDispute": TestCard("visa", "0259", "dispute"),
}
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, **extra}}


def missing(kind: str, object_id: str) -> StripeError:
    return StripeError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
    )


def unexpected_state(kind: str, obj: dict[str, Any], action: str) -> StripeError:
    return StripeError(
        400,
        "invalid_request_error",
        f"This {kind} could not be {action} because it has a status of {obj['status']}.",
        code=f"{kind.replace(' ', '_')}_unexpected_state",
        **{kind.replace(" ", "_"): obj},
    )


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's bracketed form encoding (`metadata[a]=1`, `expand[0]=x`) into dicts and lists."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"\[([^\]]*)\]|([^\[\]]+)", key)
        names = [inner or outer for inner, outer in parts]
        node = result
        for name in names[:-1]:
            node = node.setdefault(name, {})
        last = names[-1] if names[-1] else str(len(node))  # `a[]=x` appends
        node[last] = value
    return _lists_from_digits(result)


def _lists_from_digits(value: Any) -> Any:
    """Dicts keyed 0, 1, 2 … (how lists are form-encoded) become lists."""
    if not isinstance(value, dict):
        return value
    value = {key: _lists_from_digits(item) for key, item in value.items()}
    if value and all(key.isdigit() for key in value):
        return [value[key] for key in sorted(value, key=int)]
    return value


@dataclass
class State:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    cards: dict[str, TestCard] = field(default_factory=dict)  # payment method id -> behaviour
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, key
    lock: threading.RLock = field(default_factory=threading.RLock)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    def get(self, kind: str, prefix: str, object_id: str) -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or not object_id.startswith(prefix + "_"):
            raise missing(kind, object_id)
        return obj

    def emit(self, type_: str, obj: dict[str, Any]) -> None:
        self.events.append(
            {
                "id": self.new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": int(time.time()),
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type_,
                "data": {"object": json.loads(json.dumps(obj))},
            }
        )


class Api:
    """The endpoints, on one State; each returns (HTTP status, JSON body)."""

    def __init__(self, state: State) -> None:
        self.s = state

    # --- customers ---------------------------------------------------------------------------------
    def customer_create(self, p: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": self.s.new_id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "email": p.get("email"),
            "name": p.get("name"),
            "metadata": p.get("metadata", {}),
            "livemode": False,
            "invoice_settings": {"default_payment_method": None},
        }
        self.s.objects[customer["id"]] = customer
        return customer

    # --- payment methods ---------------------------------------------------------------------------
    def _payment_method(self, object_id: str) -> dict[str, Any]:
        """An existing method, or a fresh one made from a test token (as Stripe does)."""
        card = TEST_TOKENS.get(object_id)
        if card is None:
            return self.s.get("PaymentMethod", "pm", object_id)
        method = {
            "id": self.s.new_id("pm"),
            "object": "payment_method",
            "type": "card",
            "created": int(time.time()),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": 12,
                "exp_year": time.gmtime().tm_year + 3,
                "country": "US",
                "funding": "credit",
            },
        }
        self.s.objects[method["id"]] = method
        self.s.cards[method["id"]] = card
        return method

    def _attach(self, method: dict[str, Any], customer_id: str) -> None:
        self.s.get("Customer", "cus", customer_id)
        card = self.s.cards[method["id"]]
        if card.behaviour == "decline_always":
            raise self._card_error(card)
        if method["customer"] not in (None, customer_id):
            raise StripeError(
                400,
                "invalid_request_error",
                "The payment method you provided has already been attached to a customer.",
            )
        method["customer"] = customer_id
        self.s.emit("payment_method.attached", method)

    def payment_method_attach(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        if "customer" not in p:
            raise StripeError(
                400, "invalid_request_error", "Missing required param: customer.", param="customer"
            )
        method = self._payment_method(object_id)
        self._attach(method, p["customer"])
        return method

    def payment_method_detach(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        method = self.s.get("PaymentMethod", "pm", object_id)
        if method["customer"] is None:
            raise StripeError(
                400, "invalid_request_error", "The payment method you provided is not attached to a customer."
            )
        method["customer"] = None
        self.s.emit("payment_method.detached", method)
        return method

    def payment_method_list(self, p: dict[str, Any]) -> dict[str, Any]:
        customer = p.get("customer")
        if customer:
            self.s.get("Customer", "cus", customer)
        items = [
            o
            for o in self.s.objects.values()
            if o["object"] == "payment_method"
            and (customer is None or o["customer"] == customer)
            and p.get("type", "card") == o["type"]
        ]
        items.sort(key=lambda o: o["created"], reverse=True)
        limit = int(p.get("limit", 10))
        return {
            "object": "list",
            "url": "/v1/payment_methods",
            "has_more": len(items) > limit,
            "data": items[:limit],
        }

    # --- setup intents -----------------------------------------------------------------------------
    def setup_intent_create(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("customer"):
            self.s.get("Customer", "cus", p["customer"])
        object_id = self.s.new_id("seti")
        intent = {
            "id": object_id,
            "object": "setup_intent",
            "client_secret": f"{object_id}_secret_{secrets.token_hex(12)}",
            "created": int(time.time()),
            "customer": p.get("customer"),
            "payment_method": None,
            "payment_method_types": p.get("payment_method_types", ["card"]),
            "usage": p.get("usage", "off_session"),
            "status": "requires_payment_method",
            "last_setup_error": None,
            "next_action": None,
            "metadata": p.get("metadata", {}),
            "livemode": False,
        }
        self.s.objects[object_id] = intent
        self.s.emit("setup_intent.created", intent)
        if p.get("payment_method"):
            intent["payment_method"] = self._payment_method(p["payment_method"])["id"]
            intent["status"] = "requires_confirmation"
            if p.get("confirm") in ("true", True):
                return self.setup_intent_confirm(object_id, {})
        return intent

    def setup_intent_confirm(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        intent = self.s.get("SetupIntent", "seti", object_id)
        if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise unexpected_state("setup intent", intent, "confirmed")
        if p.get("payment_method"):
            intent["payment_method"] = self._payment_method(p["payment_method"])["id"]
        if not intent["payment_method"]:
            raise StripeError(
                400,
                "invalid_request_error",
                "You cannot confirm this SetupIntent because it's missing a payment method.",
                code="setup_intent_unexpected_state",
            )
        card = self.s.cards[intent["payment_method"]]
        if card.behaviour == "decline_always":
            error = self._card_error(card)
            intent["status"] = "requires_payment_method"
            intent["last_setup_error"] = error.body["error"]
            error.body["error"]["setup_intent"] = intent
            self.s.emit("setup_intent.setup_failed", intent)
            raise error
        if card.behaviour == "authenticate":
            intent["status"] = "requires_action"
            intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
            self.s.emit("setup_intent.requires_action", intent)
            return intent
        if intent["customer"]:
            self._attach(self.s.objects[intent["payment_method"]], intent["customer"])
        intent["status"] = "succeeded"
        intent["next_action"] = None
        self.s.emit("setup_intent.succeeded", intent)
        return intent

    # --- payment intents ---------------------------------------------------------------------------
    def _card_error(self, card: TestCard, code: str = "card_declined") -> StripeError:
        if code == "authentication_required":
            return StripeError(
                402,
                "card_error",
                "Your card was declined. This transaction requires authentication.",
                code=code,
                decline_code="authentication_required",
            )
        return StripeError(
            402,
            "card_error",
            DECLINE_MESSAGES.get(card.decline_code, "Your card was declined."),
            code="card_declined",
            decline_code=card.decline_code,
        )

    def payment_intent_create(self, p: dict[str, Any]) -> dict[str, Any]:
        for required in ("amount", "currency"):
            if required not in p:
                raise StripeError(
                    400, "invalid_request_error", f"Missing required param: {required}.", param=required
                )
        amount = int(p["amount"])
        if amount < 1:
            raise StripeError(
                400, "invalid_request_error", "This value must be greater than or equal to 1.", param="amount"
            )
        if p.get("customer"):
            self.s.get("Customer", "cus", p["customer"])
        object_id = self.s.new_id("pi")
        intent = {
            "id": object_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": p["currency"].lower(),
            "capture_method": p.get("capture_method", "automatic_async"),
            "confirmation_method": "automatic",
            "client_secret": f"{object_id}_secret_{secrets.token_hex(12)}",
            "created": int(time.time()),
            "customer": p.get("customer"),
            "description": p.get("description"),
            "payment_method": None,
            "payment_method_types": p.get("payment_method_types", ["card"]),
            "latest_charge": None,
            "last_payment_error": None,
            "next_action": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "metadata": p.get("metadata", {}),
            "setup_future_usage": p.get("setup_future_usage"),
            "status": "requires_payment_method",
            "livemode": False,
        }
        self.s.objects[object_id] = intent
        self.s.emit("payment_intent.created", intent)
        if p.get("payment_method"):
            method = self._payment_method(p["payment_method"])
            if method["customer"] and method["customer"] != intent["customer"]:
                raise StripeError(
                    400,
                    "invalid_request_error",
                    "The provided PaymentMethod belongs to another customer.",
                    param="payment_method",
                )
            intent["payment_method"] = method["id"]
            intent["status"] = "requires_confirmation"
        if p.get("confirm") in ("true", True):
            return self._confirm(intent, off_session=p.get("off_session") in ("true", True))
        return intent

    def payment_intent_confirm(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        intent = self.s.get("PaymentIntent", "pi", object_id)
        if p.get("payment_method"):
            intent["payment_method"] = self._payment_method(p["payment_method"])["id"]
        return self._confirm(intent, off_session=p.get("off_session") in ("true", True))

    def payment_intent_authenticate(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        """The driver's answer to the bank's 3-D Secure challenge (what Stripe.js's modal stands for)."""
        intent = self.s.get("PaymentIntent", "pi", object_id)
        if intent["status"] != "requires_action":
            raise unexpected_state("payment intent", intent, "authenticated")
        if p.get("result", "succeeded") == "succeeded":
            return self._confirm(intent, off_session=False, authenticated=True)
        error = StripeError(
            402,
            "card_error",
            "We are unable to authenticate your payment method. Please choose a different payment method "
            "and try again.",
            code="payment_intent_authentication_failure",
        )
        intent["status"], intent["next_action"] = "requires_payment_method", None
        intent["last_payment_error"] = error.body["error"]
        self.s.emit("payment_intent.payment_failed", intent)
        return intent

    def _confirm(
        self, intent: dict[str, Any], *, off_session: bool, authenticated: bool = False
    ) -> dict[str, Any]:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise unexpected_state("payment intent", intent, "confirmed")
        if not intent["payment_method"]:
            raise StripeError(
                400,
                "invalid_request_error",
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
                payment_intent=intent,
            )
        card = self.s.cards[intent["payment_method"]]
        if card.behaviour == "authenticate" and not off_session and not authenticated:
            intent["status"] = "requires_action"
            intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
            self.s.emit("payment_intent.requires_action", intent)
            return intent
        charge = self._charge(intent, card)
        if card.behaviour in ("decline_always", "decline_charge") or (
            card.behaviour == "authenticate" and not authenticated
        ):
            code = "authentication_required" if card.behaviour == "authenticate" else "card_declined"
            error = self._card_error(card, code)
            charge["status"] = "failed"
            charge["failure_code"] = error.body["error"]["code"]
            charge["failure_message"] = error.body["error"]["message"]
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                **error.body["error"],
                "charge": charge["id"],
                "payment_method": self.s.objects[intent["payment_method"]],
            }
            error.body["error"]["charge"] = charge["id"]
            error.body["error"]["payment_intent"] = intent
            self.s.emit("charge.failed", charge)
            self.s.emit("payment_intent.payment_failed", intent)
            raise error
        intent["next_action"] = None
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self.s.emit("charge.succeeded", charge)
            self.s.emit("payment_intent.amount_capturable_updated", intent)
            return intent
        charge["captured"] = True
        charge["amount_captured"] = intent["amount"]
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        self.s.emit("charge.succeeded", charge)
        self.s.emit("payment_intent.succeeded", intent)
        if card.behaviour == "dispute":
            self._dispute(charge)
        return intent

    def _charge(self, intent: dict[str, Any], card: TestCard) -> dict[str, Any]:
        charge = {
            "id": self.s.new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "refunded": False,
            "disputed": False,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "status": "succeeded",
            "paid": True,
            "failure_code": None,
            "failure_message": None,
            "created": int(time.time()),
            "livemode": False,
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": card.brand,
                    "last4": card.last4,
                    "capture_before": int(time.time()) + 7 * 86400,
                },
            },
        }
        self.s.objects[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    def _dispute(self, charge: dict[str, Any]) -> None:
        dispute = {
            "id": self.s.new_id("du"),
            "object": "dispute",
            "amount": charge["amount_captured"],
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
            "is_charge_refundable": False,
            "created": int(time.time()),
            "livemode": False,
        }
        self.s.objects[dispute["id"]] = dispute
        charge["disputed"] = True
        self.s.emit("charge.dispute.created", dispute)

    def payment_intent_capture(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        intent = self.s.get("PaymentIntent", "pi", object_id)
        if intent["status"] != "requires_capture":
            raise unexpected_state("payment intent", intent, "captured")
        amount = int(p.get("amount_to_capture", intent["amount_capturable"]))
        if amount > intent["amount_capturable"]:
            raise StripeError(
                400,
                "invalid_request_error",
                f"The amount to capture ({amount}) must be less than or equal to the amount capturable "
                f"({intent['amount_capturable']}).",
                param="amount_to_capture",
                code="amount_too_large",
            )
        if amount < 1:
            raise StripeError(
                400,
                "invalid_request_error",
                "This value must be greater than or equal to 1.",
                param="amount_to_capture",
            )
        charge = self.s.objects[intent["latest_charge"]]
        # The rest of the authorization is released: no refund object, amount_refunded stays 0.
        charge["captured"] = True
        charge["amount_captured"] = amount
        intent["amount_received"] = amount
        intent["amount_capturable"] = 0
        intent["status"] = "succeeded"
        self.s.emit("charge.captured", charge)
        self.s.emit("payment_intent.succeeded", intent)
        return intent

    def payment_intent_cancel(
        self, object_id: str, p: dict[str, Any], reason: str | None = None
    ) -> dict[str, Any]:
        intent = self.s.get("PaymentIntent", "pi", object_id)
        if intent["status"] in ("succeeded", "canceled", "processing"):
            raise unexpected_state("payment intent", intent, "canceled")
        if intent["latest_charge"] and intent["status"] == "requires_capture":
            charge = self.s.objects[intent["latest_charge"]]
            charge["refunded"] = True
            charge["amount_refunded"] = charge["amount"]  # an uncaptured charge is "refunded" on release
            self.s.emit("charge.expired" if reason == "automatic" else "charge.refunded", charge)
        intent["status"] = "canceled"
        intent["amount_capturable"] = 0
        intent["canceled_at"] = int(time.time())
        intent["cancellation_reason"] = reason or p.get("cancellation_reason")
        self.s.emit("payment_intent.canceled", intent)
        return intent

    # --- refunds -----------------------------------------------------------------------------------
    def refund_create(self, p: dict[str, Any]) -> dict[str, Any]:
        if "payment_intent" in p:
            intent = self.s.get("PaymentIntent", "pi", p["payment_intent"])
            charge = self.s.objects.get(intent["latest_charge"] or "")
        elif "charge" in p:
            charge = self.s.get("Charge", "ch", p["charge"])
            intent = self.s.objects[charge["payment_intent"]]
        else:
            raise StripeError(
                400, "invalid_request_error", "One of `charge` or `payment_intent` is required."
            )
        if charge is None or intent["status"] != "succeeded":
            raise StripeError(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                code="charge_not_refundable" if charge else "payment_intent_unexpected_state",
            )
        left = charge["amount_captured"] - charge["amount_refunded"]
        amount = int(p.get("amount", left))
        if left <= 0:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > left:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
            )
        refund = {
            "id": self.s.new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": intent["id"],
            "status": "succeeded",
            "reason": p.get("reason"),
            "metadata": p.get("metadata", {}),
            "created": int(time.time()),
        }
        self.s.objects[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self.s.emit("refund.created", refund)
        self.s.emit("charge.refunded", charge)
        return refund

    def refund_list(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [
            o
            for o in self.s.objects.values()
            if o["object"] == "refund"
            and p.get("payment_intent") in (None, o["payment_intent"])
            and p.get("charge") in (None, o["charge"])
        ]
        items.sort(key=lambda o: o["created"], reverse=True)
        return {"object": "list", "url": "/v1/refunds", "has_more": False, "data": items}

    # --- double-only controls ----------------------------------------------------------------------
    def dispute_close(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        dispute = self.s.get("Dispute", "du", object_id)
        dispute["status"] = p.get("status", "lost")
        self.s.emit("charge.dispute.closed", dispute)
        return dispute

    def expand(self, obj: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        wanted = p.get("expand", [])
        if not wanted:
            return obj
        out = dict(obj)
        for path in wanted:
            value = out.get(path)
            if isinstance(value, str) and value in self.s.objects:
                out[path] = self.s.objects[value]
        return out


ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/v1/customers", "customer_create"),
    ("GET", r"/v1/customers/(?P<id>[^/]+)", "customer_get"),
    ("GET", r"/v1/customers/(?P<id>[^/]+)/payment_methods", "customer_payment_methods"),
    ("POST", r"/v1/setup_intents", "setup_intent_create"),
    ("GET", r"/v1/setup_intents/(?P<id>[^/]+)", "setup_intent_get"),
    ("POST", r"/v1/setup_intents/(?P<id>[^/]+)/confirm", "setup_intent_confirm"),
    ("GET", r"/v1/payment_methods", "payment_method_list"),
    ("GET", r"/v1/payment_methods/(?P<id>[^/]+)", "payment_method_get"),
    ("POST", r"/v1/payment_methods/(?P<id>[^/]+)/attach", "payment_method_attach"),
    ("POST", r"/v1/payment_methods/(?P<id>[^/]+)/detach", "payment_method_detach"),
    ("POST", r"/v1/payment_intents", "payment_intent_create"),
    ("GET", r"/v1/payment_intents/(?P<id>[^/]+)", "payment_intent_get"),
    ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/confirm", "payment_intent_confirm"),
    ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/capture", "payment_intent_capture"),
    ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/cancel", "payment_intent_cancel"),
    ("POST", r"/v1/refunds", "refund_create"),
    ("GET", r"/v1/refunds", "refund_list"),
    ("GET", r"/v1/refunds/(?P<id>[^/]+)", "refund_get"),
    ("GET", r"/v1/charges/(?P<id>[^/]+)", "charge_get"),
    ("GET", r"/v1/events", "event_list"),
    ("POST", r"/_double/disputes/(?P<id>[^/]+)/close", "dispute_close"),
    ("POST", r"/_double/payment_intents/(?P<id>[^/]+)/expire", "payment_intent_expire"),
    ("POST", r"/_double/payment_intents/(?P<id>[^/]+)/authenticate", "payment_intent_authenticate"),
]
GETTERS = {
    "customer_get": ("Customer", "cus"),
    "setup_intent_get": ("SetupIntent", "seti"),
    "payment_method_get": ("PaymentMethod", "pm"),
    "payment_intent_get": ("PaymentIntent", "pi"),
    "refund_get": ("Refund", "re"),
    "charge_get": ("Charge", "ch"),
}


def dispatch(api: Api, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    for verb, pattern, name in ROUTES:
        match = re.fullmatch(pattern, path)
        if verb != method or match is None:
            continue
        object_id = match.groupdict().get("id")
        if name in GETTERS:
            return api.expand(api.s.get(*GETTERS[name], object_id or ""), params)
        if name == "customer_payment_methods":
            return api.payment_method_list({**params, "customer": object_id})
        if name == "event_list":
            limit = int(params.get("limit", 100))
            events = [e for e in reversed(api.s.events) if params.get("type") in (None, e["type"])]
            return {
                "object": "list",
                "url": "/v1/events",
                "has_more": len(events) > limit,
                "data": events[:limit],
            }
        if name == "payment_intent_expire":
            return api.payment_intent_cancel(object_id or "", {}, reason="automatic")
        handler = getattr(api, name)
        result = handler(object_id, params) if object_id is not None else handler(params)
        return api.expand(result, params)
    raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")


class Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_OPTIONS(self) -> None:  # a browser's CORS preflight
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _script(self) -> None:
        host, port = self.server.server_address[:2]
        data = stripe_js(f"http://{host}:{port}")
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        if method == "GET" and url.path in ("/v3", "/v3/"):
            self._script()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        pairs = parse_qsl(url.query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True)
        params = parse_form(pairs)
        state = self.server.state
        key = self.headers.get("Idempotency-Key")
        replayed = False
        with state.lock:
            state.requests.append((method, url.path, key))
            if url.path.startswith("/v1/") and not (
                self._authorized() or self._publishable(state, method, url.path, params)
            ):
                status, payload = 401, self._bad_key()
            elif method == "POST" and key and key in state.idempotency:
                fingerprint, status, payload = state.idempotency[key]
                replayed = True
                if fingerprint != f"{url.path}?{body}":
                    status, payload = (
                        400,
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with. Try using a key other than "
                                f"'{key}' if you meant to execute a different request.",
                            }
                        },
                    )
            else:
                try:
                    status, payload = 200, dispatch(Api(state), method, url.path, params)
                except StripeError as error:
                    status, payload = error.status, error.body
                except Exception as error:  # a bug in the double: answer as Stripe does to its own bugs
                    status, payload = 500, {"error": {"type": "api_error", "message": repr(error)}}
                if method == "POST" and key:
                    state.idempotency[key] = (f"{url.path}?{body}", status, json.loads(json.dumps(payload)))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
        self.send_header("Stripe-Version", API_VERSION)
        self.send_header("Access-Control-Allow-Origin", "*")
        if key:
            self.send_header("Idempotency-Key", key)
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return token == self.server.api_key

    @staticmethod
    def _publishable(state: State, method: str, path: str, params: dict[str, Any]) -> bool:
        """Stripe.js confirms an intent with the publishable key and the intent's client secret."""
        match = re.fullmatch(r"/v1/(payment_intents|setup_intents)/([^/]+)/confirm", path)
        if method != "POST" or match is None or not str(params.get("key", "")).startswith("pk_"):
            return False
        intent = state.objects.get(match.group(2))
        return intent is not None and intent.get("client_secret") == params.get("client_secret")

    def _bad_key(self) -> dict[str, Any]:
        return {
            "error": {
                "type": "invalid_request_error",
                "message": "Invalid API Key provided: "
                + self.headers.get("Authorization", "").removeprefix("Bearer ")[:8]
                + "****",
            }
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: State
    api_key: str


class StripeDouble:
    """The double on a free loopback port, in a thread; `url` is what STRIPE_API_BASE points at."""

    def __init__(self, api_key: str = "sk_test_double") -> None:
        self.api_key = api_key
        self.state = State()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.state = self.state
        self._server.api_key = api_key
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-double", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StripeDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests read ---------------------------------------------------------------------------
    def objects(self, kind: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [o for o in self.state.objects.values() if o["object"] == kind]

    def get(self, object_id: str) -> dict[str, Any]:
        with self.state.lock:
            return json.loads(json.dumps(self.state.objects[object_id]))

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """The events so far, oldest first (as Stripe would deliver them, give or take order)."""
        with self.state.lock:
            return [json.loads(json.dumps(e)) for e in self.state.events if type_ in (None, e["type"])]

    def last_event(self, type_: str) -> dict[str, Any]:
        found = self.events(type_)
        assert found, f"the double emitted no {type_} event"
        return found[-1]
