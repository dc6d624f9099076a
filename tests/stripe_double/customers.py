"""Customers, payment methods (test tokens become cards) and setup intents."""

from __future__ import annotations

import secrets
import time
from typing import Any

from tests.stripe_double.state import TEST_TOKENS, ApiBase, State, StripeError, card_error, unexpected_state


def payment_method_resolve(state: State, object_id: str) -> dict[str, Any]:
    """An existing method, or a fresh one made from a test token (as Stripe does)."""
    card = TEST_TOKENS.get(object_id)
    if card is None:
        return state.get("PaymentMethod", "pm", object_id)
    method = {
        "id": state.new_id("pm"),
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
    state.objects[method["id"]] = method
    state.cards[method["id"]] = card
    return method


class CustomersApi(ApiBase):
    """Customers, payment methods and setup intents."""

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
    def _attach(self, method: dict[str, Any], customer_id: str) -> None:
        self.s.get("Customer", "cus", customer_id)
        card = self.s.cards[method["id"]]
        if card.behaviour == "decline_always":
            raise card_error(card)
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
        method = payment_method_resolve(self.s, object_id)
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
            intent["payment_method"] = payment_method_resolve(self.s, p["payment_method"])["id"]
            intent["status"] = "requires_confirmation"
            if p.get("confirm") in ("true", True):
                return self.setup_intent_confirm(object_id, {})
        return intent

    def setup_intent_confirm(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        intent = self.s.get("SetupIntent", "seti", object_id)
        if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise unexpected_state("setup intent", intent, "confirmed")
        if p.get("payment_method"):
            intent["payment_method"] = payment_method_resolve(self.s, p["payment_method"])["id"]
        if not intent["payment_method"]:
            raise StripeError(
                400,
                "invalid_request_error",
                "You cannot confirm this SetupIntent because it's missing a payment method.",
                code="setup_intent_unexpected_state",
            )
        card = self.s.cards[intent["payment_method"]]
        if card.behaviour == "decline_always":
            error = card_error(card)
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
