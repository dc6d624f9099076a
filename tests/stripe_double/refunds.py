"""Refunds and disputes.

A refund is created succeeded, or pending while the account's balance cannot cover it (the double's
/_double/balance control, Stripe's pending_reason insufficient_funds). The double's
/_double/refunds/<id>/settle control stands for what happens later at the bank: a pending refund
succeeds, fails or is canceled, and a succeeded one can still fail (a closed card: Stripe's
pm_card_refundFail). A failed or canceled refund gives the money back to the charge (its
amount_refunded drops), and Stripe sends refund.updated and charge.refund.updated, plus refund.failed.
"""

from __future__ import annotations

import time
from typing import Any

from tests.stripe_double.state import ApiBase, State, StripeError


def dispute_open(state: State, charge: dict[str, Any]) -> None:
    """Dispute a captured charge at once (what `pm_card_createDispute` does)."""
    dispute = {
        "id": state.new_id("du"),
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
    state.objects[dispute["id"]] = dispute
    charge["disputed"] = True
    state.emit("charge.dispute.created", dispute)


class RefundsApi(ApiBase):
    """Refunds, and the double's control that closes a dispute."""

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
            "status": "pending" if self.s.balance_insufficient else "succeeded",
            "pending_reason": "insufficient_funds" if self.s.balance_insufficient else None,
            "failure_reason": None,
            "failure_balance_transaction": None,
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
        items.reverse()  # newest first, also among refunds made in the same second
        items.sort(key=lambda o: o["created"], reverse=True)
        return {"object": "list", "url": "/v1/refunds", "has_more": False, "data": items}

    # --- double-only controls ----------------------------------------------------------------------
    def balance_set(self, p: dict[str, Any]) -> dict[str, Any]:
        """While the balance is insufficient, new refunds wait as pending."""
        self.s.balance_insufficient = str(p.get("insufficient", "false")).lower() == "true"
        return {"object": "balance", "insufficient": self.s.balance_insufficient}

    def refund_settle(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        """Move a refund on: pending to succeeded, failed or canceled; succeeded to failed."""
        refund = self.s.get("Refund", "re", object_id)
        status = p.get("status", "")
        allowed = {"pending": ("succeeded", "failed", "canceled"), "succeeded": ("failed",)}
        if status not in allowed.get(refund["status"], ()):
            raise StripeError(
                400,
                "invalid_request_error",
                f"A refund with status {refund['status']} cannot become {status or 'nothing'}.",
                code="refund_unexpected_state",
            )
        refund["status"], refund["pending_reason"] = status, None
        if status in ("failed", "canceled"):
            charge = self.s.objects[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        if status == "failed":
            refund["failure_reason"] = p.get("failure_reason", "expired_or_canceled_card")
            refund["failure_balance_transaction"] = self.s.new_id("txn")
        self.s.emit("refund.updated", refund)
        self.s.emit("charge.refund.updated", refund)
        if status == "failed":
            self.s.emit("refund.failed", refund)
        return refund

    def dispute_close(self, object_id: str, p: dict[str, Any]) -> dict[str, Any]:
        dispute = self.s.get("Dispute", "du", object_id)
        dispute["status"] = p.get("status", "lost")
        self.s.emit("charge.dispute.closed", dispute)
        return dispute
