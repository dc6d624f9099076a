"""What billing asks of a payment provider, in our terms: Decimal money, our statuses, our errors.

The provider module (billing/payments/stripe.py) is the only one that speaks the provider's language;
services call `gateway()` and get a `PaymentGateway`, or `None` when payments are not configured.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from billing.domain import PaymentStatus


class PaymentError(Exception):
    """Base of the provider errors services handle."""


class ProviderUnavailable(PaymentError):
    """The provider could not be reached or failed (network, 5xx, rate limit): try again later."""


class ProviderRejected(PaymentError):
    """The provider refused the request itself (wrong state, bad parameters, bad key): a bug or a race."""


class PaymentDeclined(PaymentError):
    """The card was declined; `payment` is the provider's payment as it stands after the attempt."""

    def __init__(self, message: str, *, code: str = "", payment: ProviderPayment | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.payment = message, code, payment


class ActionRequired(PaymentDeclined):
    """The bank wants the driver to authenticate (3-D Secure); an off-session charge cannot do that."""


class InvalidWebhook(PaymentError):
    """A webhook whose signature, timestamp or body does not hold up."""


class PaymentsNotConfigured(PaymentError):
    """Card payments are off (no STRIPE_SECRET_KEY)."""


class NotTheDriversMethod(PaymentError):
    """A payment method or setup that belongs to another customer (or to none of ours)."""


class SetupIncomplete(PaymentError):
    """The card was not saved (the driver abandoned or failed authentication)."""


@dataclass(frozen=True)
class ProviderCustomer:
    id: str


@dataclass(frozen=True)
class ProviderPaymentMethod:
    id: str
    customer_id: str | None
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class ProviderSetup:
    """A request to save a payment method for later (a Stripe SetupIntent)."""

    id: str
    client_secret: str
    customer_id: str | None
    payment_method_id: str | None
    succeeded: bool


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider has it now, amounts in the currency's units (Decimal)."""

    id: str
    status: PaymentStatus
    currency: str
    amount: Decimal  # what was asked for (the hold, for a manual capture)
    amount_capturable: Decimal
    amount_captured: Decimal
    amount_refunded: Decimal
    disputed: bool = False
    failure_message: str = ""
    client_secret: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    refunds: tuple[ProviderRefund, ...] = ()  # oldest first, failed and canceled ones included


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    payment_id: str
    amount: Decimal
    currency: str
    status: str  # pending, requires_action, succeeded, failed or canceled (Stripe's words)


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event: its id, type and the object it carries (the provider's dict)."""

    id: str
    type: str
    object: dict[str, Any]
    payload: dict[str, Any]


class PaymentGateway(abc.ABC):
    """Every call billing makes to a card payment provider.

    Each call that creates or moves money takes an idempotency key derived from our own ids, so a
    retried task or request repeats nothing at the provider."""

    identifier: str

    @abc.abstractmethod
    def customer_create(
        self, *, email: str, name: str, reference: str, idempotency_key: str
    ) -> ProviderCustomer:
        """Create the provider's customer for one of our users."""

    @abc.abstractmethod
    def setup_start(self, *, customer_id: str, idempotency_key: str) -> ProviderSetup:
        """Start saving a card for off-session charges; the browser completes it with the secret."""

    @abc.abstractmethod
    def setup_retrieve(self, setup_id: str) -> ProviderSetup: ...

    @abc.abstractmethod
    def payment_method_retrieve(self, payment_method_id: str) -> ProviderPaymentMethod: ...

    @abc.abstractmethod
    def payment_method_list(self, *, customer_id: str) -> list[ProviderPaymentMethod]: ...

    @abc.abstractmethod
    def payment_method_detach(self, payment_method_id: str) -> None:
        """Forget a saved method at the provider; one already detached is not an error."""

    @abc.abstractmethod
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
        """Charge a saved method without the driver (off session); raises PaymentDeclined/ActionRequired."""

    @abc.abstractmethod
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
        """Authorize `amount` on the card without taking it (manual capture)."""

    @abc.abstractmethod
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
        """Start a hold the driver authorizes in the browser (cards or wallets) with its client secret."""

    @abc.abstractmethod
    def capture(
        self, payment_id: str, *, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderPayment:
        """Take `amount` (at most the hold) and release the rest of the hold."""

    @abc.abstractmethod
    def cancel(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        """Release a hold (or abandon a payment not yet completed)."""

    @abc.abstractmethod
    def refund(
        self, payment_id: str, *, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderRefund: ...

    @abc.abstractmethod
    def payment_retrieve(self, payment_id: str) -> ProviderPayment:
        """The payment as the provider has it now, refunds and disputes included."""

    @abc.abstractmethod
    def webhook_verify(self, *, body: bytes, signature: str) -> ProviderEvent:
        """Check a webhook's signature against the raw body; raises InvalidWebhook."""


def payments_configured() -> bool:
    """Whether card payments are on (a secret key is set)."""
    return bool(settings.STRIPE_SECRET_KEY)


def gateway() -> PaymentGateway | None:
    """The configured gateway, or None when card payments are off."""
    if not payments_configured():
        return None
    cls = import_string(getattr(settings, "BILLING_PAYMENT_GATEWAY", "billing.payments.stripe.StripeGateway"))
    return cls.from_settings()
