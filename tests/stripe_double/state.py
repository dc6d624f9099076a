"""The double's state (objects, events, idempotency keys), its test cards and Stripe-shaped errors."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

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


def card_error(card: TestCard, code: str = "card_declined") -> StripeError:
    """The 402 a card gives: a decline with its code, or a demand for 3-D Secure."""
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


@dataclass
class State:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    cards: dict[str, TestCard] = field(default_factory=dict)  # payment method id -> behaviour
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, key
    balance_insufficient: bool = False  # new refunds wait as pending (refunds.py)
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


class ApiBase:
    """What every group of endpoints shares: the one State they act on."""

    def __init__(self, state: State) -> None:
        self.s = state
