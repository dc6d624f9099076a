"""Payment intents: create, confirm (3-D Secure, declines, disputes), capture, cancel, expire."""

from __future__ import annotations

import secrets
import time
from typing import Any

from tests.stripe_double.customers import payment_method_resolve
from tests.stripe_double.refunds import dispute_open
from tests.stripe_double.state import ApiBase, StripeError, TestCard, card_error, unexpected_state


class PaymentIntentsApi(ApiBase):
    """Payment intents, with manual capture and the double's 3-D Secure answer."""

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
            method = payment_method_resolve(self.s, p["payment_method"])
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
            intent["payment_method"] = payment_method_resolve(self.s, p["payment_method"])["id"]
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
            error = card_error(card, code)
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
            dispute_open(self.s, charge)
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
