"""Helpers for the payment tests: drivers with cards saved at the Stripe double."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import stripe

from accounts.models import User
from billing.domain import PaymentMethodKind, PaymentStatus
from billing.models import Payment, SavedPaymentMethod
from billing.services.payment_methods import customer_get_or_create, payment_method_saved


def save_card(api: stripe.StripeClient, user: User, token: str = "pm_card_visa") -> SavedPaymentMethod:
    """Attach a test card to the driver's customer (as Stripe.js would) and record it."""
    customer = customer_get_or_create(user=user)
    method = api.v1.payment_methods.attach(token, params={"customer": customer.provider_customer_id})
    return payment_method_saved(user=user, provider_payment_method_id=method.id)


def intent(api: stripe.StripeClient, **params: Any) -> dict[str, Any]:
    """A PaymentIntent made directly at the double, as a dict."""
    return api.v1.payment_intents.create(params={"currency": "eur", **params}).to_dict(recursive=True)


def payment_for(reference: str | None, *, amount: str = "6.00", **fields: Any) -> Payment:
    return Payment.objects.create(
        method=fields.pop("method", PaymentMethodKind.SAVED_CARD),
        status=fields.pop("status", PaymentStatus.PENDING),
        currency="EUR",
        amount_authorized=Decimal(amount),
        provider_reference=reference,
        **fields,
    )
