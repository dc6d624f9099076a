"""The Stripe gateway: the only module that imports `stripe` or sees integer minor units.

Every call goes through one `StripeClient` built from settings (STRIPE_SECRET_KEY, STRIPE_API_BASE), so
the tests point it at their local double and production at api.stripe.com. Stripe's errors become
billing's (`PaymentDeclined`, `ActionRequired`, `ProviderUnavailable`, `ProviderRejected`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

import stripe
from django.conf import settings

from billing.domain import PaymentStatus, currency_units
from billing.payments.base import (
    ActionRequired,
    InvalidWebhook,
    PaymentDeclined,
    PaymentGateway,
    ProviderCustomer,
    ProviderEvent,
    ProviderPayment,
    ProviderPaymentMethod,
    ProviderRefund,
    ProviderRejected,
    ProviderSetup,
    ProviderUnavailable,
)

WEBHOOK_TOLERANCE_S = 300  # the library's default: a signed payload older than 5 minutes is refused
TIMEOUT_S = 20
# Refunds whose money has left or is leaving: failed and canceled ones gave nothing back.
REFUNDS_COUNTED = ("succeeded", "pending")


def to_minor(amount: Decimal, currency: str) -> int:
    """Stripe's integer amount: 12.34 EUR -> 1234, 500 JPY -> 500, 5 ISK -> 500, 500 MGA -> 500.

    The exponents are billing.domain's table. An amount finer than what a charge can carry (12.345
    EUR, 5.5 ISK, 1.255 KWD) is a pricing bug, refused here rather than by Stripe."""
    units = currency_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-units.charge)):
        raise ValueError(f"{amount} {currency} is finer than a charge in {currency.upper()} can carry")
    return int(amount.scaleb(units.stripe))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_units(currency).stripe)


def _dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj or {})


def _translate(error: stripe.StripeError) -> Exception:
    """Map a Stripe exception to billing's; card errors carry the PaymentIntent as it stands."""
    if isinstance(error, stripe.CardError):
        body = cast(dict[str, Any], error.json_body or {}).get("error", {})  # stripe types it as object
        intent = body.get("payment_intent")
        payment = _payment(intent) if intent else None
        message = body.get("message") or str(error.user_message or error)
        code = body.get("code") or ""
        cls = ActionRequired if code == "authentication_required" else PaymentDeclined
        return cls(message, code=body.get("decline_code") or code, payment=payment)
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailable(str(error))
    if (error.http_status or 500) >= 500:
        return ProviderUnavailable(f"Stripe answered {error.http_status}: {error.user_message or error}")
    return ProviderRejected(str(error.user_message or error))


PI_STATUS = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.AUTHORIZED,
    "canceled": PaymentStatus.CANCELED,
    "succeeded": PaymentStatus.CAPTURED,
}


def _payment(intent: dict[str, Any], refunds: Sequence[dict[str, Any]] = ()) -> ProviderPayment:
    """Our view of a PaymentIntent dict (latest_charge expanded or not) and its refunds (newest first)."""
    # Refund objects, not the charge's amount_refunded: what a partial capture released is no refund.
    refunded_minor = sum(r["amount"] for r in refunds if r["status"] in REFUNDS_COUNTED)
    currency = intent["currency"].upper()
    error = intent.get("last_payment_error") or {}
    status = PI_STATUS.get(intent["status"], PaymentStatus.PENDING)
    if intent["status"] == "requires_payment_method" and error:
        status = PaymentStatus.FAILED  # the last attempt was declined; nothing is pending
    received = intent.get("amount_received") or 0
    if status == PaymentStatus.CAPTURED and refunded_minor:
        status = PaymentStatus.REFUNDED if refunded_minor >= received else PaymentStatus.PARTIALLY_REFUNDED
    charge = intent.get("latest_charge")
    return ProviderPayment(
        id=intent["id"],
        status=status,
        currency=currency,
        amount=from_minor(intent["amount"], currency),
        amount_capturable=from_minor(intent.get("amount_capturable") or 0, currency),
        amount_captured=from_minor(received, currency),
        amount_refunded=from_minor(refunded_minor, currency),
        disputed=bool(isinstance(charge, dict) and charge.get("disputed")),
        failure_message=(error.get("message") or "")[:300],
        client_secret=intent.get("client_secret") or "",
        metadata=dict(intent.get("metadata") or {}),
        refunds=tuple(_refund(refund) for refund in reversed(refunds)),
    )


def _refund(refund: dict[str, Any]) -> ProviderRefund:
    code = refund["currency"].upper()
    return ProviderRefund(
        id=refund["id"],
        payment_id=refund.get("payment_intent") or "",
        amount=from_minor(refund["amount"], code),
        currency=code,
        status=refund["status"],
    )


def _method(method: dict[str, Any]) -> ProviderPaymentMethod:
    card = method.get("card") or {}
    customer = method.get("customer")
    return ProviderPaymentMethod(
        id=method["id"],
        customer_id=customer if isinstance(customer, str) or customer is None else customer["id"],
        brand=card.get("brand") or method.get("type", ""),
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def _setup(intent: dict[str, Any]) -> ProviderSetup:
    method = intent.get("payment_method")
    return ProviderSetup(
        id=intent["id"],
        client_secret=intent.get("client_secret") or "",
        customer_id=intent.get("customer"),
        payment_method_id=method if isinstance(method, str) or method is None else method["id"],
        succeeded=intent["status"] == "succeeded",
    )


class StripeGateway(PaymentGateway):
    identifier = "stripe"

    def __init__(self, *, secret_key: str, api_base: str, webhook_secret: str, max_network_retries: int = 2):
        # Retries are safe: every mutating call carries an idempotency key.
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_S),
        )
        self.webhook_secret = webhook_secret

    @classmethod
    def from_settings(cls) -> StripeGateway:
        return cls(
            secret_key=settings.STRIPE_SECRET_KEY,
            api_base=settings.STRIPE_API_BASE,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return _dict(fn(*args, **kwargs))
        except stripe.StripeError as error:
            raise _translate(error) from error

    # --- customers and saved methods ---------------------------------------------------------------
    def customer_create(
        self, *, email: str, name: str, reference: str, idempotency_key: str
    ) -> ProviderCustomer:
        params = {"email": email, "name": name, "metadata": {"user": reference}}
        customer = self._call(
            self.client.v1.customers.create, params=params, options={"idempotency_key": idempotency_key}
        )
        return ProviderCustomer(id=customer["id"])

    def setup_start(self, *, customer_id: str, idempotency_key: str) -> ProviderSetup:
        params = {"customer": customer_id, "usage": "off_session", "payment_method_types": ["card"]}
        intent = self._call(
            self.client.v1.setup_intents.create, params=params, options={"idempotency_key": idempotency_key}
        )
        return _setup(intent)

    def setup_retrieve(self, setup_id: str) -> ProviderSetup:
        return _setup(self._call(self.client.v1.setup_intents.retrieve, setup_id))

    def payment_method_retrieve(self, payment_method_id: str) -> ProviderPaymentMethod:
        return _method(self._call(self.client.v1.payment_methods.retrieve, payment_method_id))

    def payment_method_list(self, *, customer_id: str) -> list[ProviderPaymentMethod]:
        page = self._call(
            self.client.v1.payment_methods.list,
            params={"customer": customer_id, "type": "card", "limit": 100},
        )
        return [_method(item) for item in page["data"]]

    def payment_method_detach(self, payment_method_id: str) -> None:
        try:
            self._call(self.client.v1.payment_methods.detach, payment_method_id)
        except ProviderRejected:
            # Already detached (or deleted at Stripe): the outcome wanted holds.
            if self.payment_method_retrieve(payment_method_id).customer_id is not None:
                raise

    # --- payments ----------------------------------------------------------------------------------
    def _create_intent(self, params: dict[str, Any], idempotency_key: str) -> ProviderPayment:
        intent = self._call(
            self.client.v1.payment_intents.create, params=params, options={"idempotency_key": idempotency_key}
        )
        return _payment(intent)

    def charge_saved(
        self,
        *,
        amount: Decimal,
        currency: str,
        customer_id: str,
        payment_method_id: str,
        idempotency_key: str,
        description: str = "",
        metadata: dict[str, str] | None = None,
    ) -> ProviderPayment:
        params = _intent_params(amount, currency, customer_id, description, metadata)
        params.update(payment_method=payment_method_id, payment_method_types=["card"], confirm=True)
        params["off_session"] = True
        return self._create_intent(params, idempotency_key)

    def hold(
        self,
        *,
        amount: Decimal,
        currency: str,
        payment_method_id: str,
        idempotency_key: str,
        customer_id: str | None = None,
        off_session: bool = False,
        description: str = "",
        metadata: dict[str, str] | None = None,
    ) -> ProviderPayment:
        params = _intent_params(amount, currency, customer_id, description, metadata)
        params.update(payment_method=payment_method_id, payment_method_types=["card"], confirm=True)
        params["capture_method"] = "manual"
        if off_session:
            params["off_session"] = True
        return self._create_intent(params, idempotency_key)

    def hold_start(
        self,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        customer_id: str | None = None,
        description: str = "",
        metadata: dict[str, str] | None = None,
    ) -> ProviderPayment:
        params = _intent_params(amount, currency, customer_id, description, metadata)
        params["capture_method"] = "manual"
        # The Payment Element offers what the dashboard enables: cards, Apple Pay, Google Pay, ...
        params["automatic_payment_methods"] = {"enabled": True}
        return self._create_intent(params, idempotency_key)

    def capture(
        self, payment_id: str, *, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderPayment:
        intent = self._call(
            self.client.v1.payment_intents.capture,
            payment_id,
            params={"amount_to_capture": to_minor(amount, currency)},
            options={"idempotency_key": idempotency_key},
        )
        return _payment(intent)

    def cancel(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        intent = self._call(
            self.client.v1.payment_intents.cancel, payment_id, options={"idempotency_key": idempotency_key}
        )
        return _payment(intent)

    def refund(
        self, payment_id: str, *, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        refund = self._call(
            self.client.v1.refunds.create,
            params={"payment_intent": payment_id, "amount": to_minor(amount, currency)},
            options={"idempotency_key": idempotency_key},
        )
        return _refund(refund)

    def payment_retrieve(self, payment_id: str) -> ProviderPayment:
        intent = self._call(
            self.client.v1.payment_intents.retrieve, payment_id, params={"expand": ["latest_charge"]}
        )
        refunds: list[dict[str, Any]] = []
        if intent["status"] == "succeeded":
            listed = self._call(
                self.client.v1.refunds.list, params={"payment_intent": payment_id, "limit": 100}
            )
            refunds = listed["data"]
        return _payment(intent, refunds)

    # --- webhooks ----------------------------------------------------------------------------------
    def webhook_verify(self, *, body: bytes, signature: str) -> ProviderEvent:
        if not self.webhook_secret:
            raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set: webhooks cannot be verified")
        try:
            stripe.Webhook.construct_event(
                body, signature, self.webhook_secret, tolerance=WEBHOOK_TOLERANCE_S
            )
            payload = json.loads(body)
            return ProviderEvent(
                id=payload["id"], type=payload["type"], object=payload["data"]["object"], payload=payload
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhook(f"Signature refused: {error.user_message or error}") from error
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidWebhook(f"Not a Stripe event: {error}") from error


def _intent_params(
    amount: Decimal, currency: str, customer_id: str | None, description: str, metadata: dict[str, str] | None
) -> dict[str, Any]:
    """What every PaymentIntent we create names: amount in Stripe's unit, currency, customer, description
    and metadata (customer and description only when given)."""
    params: dict[str, Any] = {
        "amount": to_minor(amount, currency),
        "currency": currency.lower(),
        "metadata": metadata or {},
    }
    if customer_id:
        params["customer"] = customer_id
    if description:
        params["description"] = description
    return params
