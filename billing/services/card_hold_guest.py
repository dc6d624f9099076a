"""Paying at a charger without an account (ad-hoc charging), and following a card-paid session.

A guest gives the email address their receipt goes to, authorizes the hold like a driver, and follows
the session on a page reached by a signed link (billing/guest_links.py), which the receipt mail carries too.

The session's progress (energy, cost so far) and the stop at the driver's request serve the guest's
page and the logged-in driver's alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.base_user import BaseUserManager
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import Invoice, Payment, SessionPrice
from billing.payments.base import PaymentError
from billing.services.card_hold import card_hold_session, card_hold_start
from billing.services.pricing import money_round
from billing.services.running_cost import session_cost_so_far
from stations.models import Station
from stations.services.remote import RemoteOutcome, session_stop_remotely

# Holds opened without an account, per client address and per browser session, in one window: a card
# form open to anyone invites card testing, and each hold is a PaymentIntent at the provider.
GUEST_HOLDS_PER_ADDRESS = 10
GUEST_HOLDS_PER_BROWSER = 4
GUEST_HOLDS_WINDOW = timedelta(minutes=15)


class GuestHoldsLimited(PaymentError):
    """Too many holds from one address or browser just now."""


def guest_email_clean(email: str) -> str:
    """The address as it is stored: trimmed, the domain in lower case; ValidationError when it is not one."""
    email = BaseUserManager.normalize_email((email or "").strip())
    if not email:
        raise ValidationError("Enter the email address your receipt should go to.", code="required")
    validate_email(email)
    if len(email) > Payment._meta.get_field("guest_email").max_length:  # type: ignore[operator]
        raise ValidationError("This email address is too long.", code="max_length")
    return email


def guest_holds_count(*, client_address: str, browser_key: str) -> None:
    """Count one more guest hold from this address and browser; GuestHoldsLimited past either limit.

    Counted in the cache (a window per key), like allauth's login rate limits."""
    keys = [
        (f"billing:guest-holds:address:{client_address}", GUEST_HOLDS_PER_ADDRESS),
        (f"billing:guest-holds:browser:{browser_key}", GUEST_HOLDS_PER_BROWSER),
    ]
    keys = [(key, limit) for key, limit in keys if not key.endswith(":")]
    if any(cache.get(key, 0) >= limit for key, limit in keys):
        raise GuestHoldsLimited(
            "Too many payments were started from here just now. Please wait a few minutes."
        )
    window_s = int(GUEST_HOLDS_WINDOW.total_seconds())
    for key, _ in keys:
        if cache.add(key, 1, timeout=window_s):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window_s)


def card_hold_start_guest(*, station: Station, evse_id: int, email: str) -> tuple[Payment, str]:
    """Open a hold for a driver without an account; their receipt goes to `email` (validated here)."""
    return card_hold_start(station=station, evse_id=evse_id, user=None, guest_email=guest_email_clean(email))


def guest_documents(*, payment: Payment) -> QuerySet[Invoice]:
    """The receipt, invoice and credit notes of the guest's session: the only documents its link opens."""
    return (
        Invoice.objects.filter(session_id=payment.session_id, session__isnull=False)
        .select_related(
            "organization", "user", "customer_organization", "credit_for", "session__station__site"
        )
        .order_by("pk")
    )


@dataclass(frozen=True)
class HoldProgress:
    """What the payment's page shows of its session: energy and cost so far (the price once priced)."""

    energy_kwh: Decimal | None
    cost: Decimal | None
    currency: str


def card_hold_progress(*, payment: Payment, at: datetime | None = None) -> HoldProgress | None:
    """The session's energy and cost so far, or its final price once priced; None before it starts."""
    session = card_hold_session(payment=payment)
    if session is None:
        return None
    energy_wh = session.live_energy_wh
    kwh = Decimal(energy_wh) / 1000 if energy_wh is not None else None
    energy_kwh = kwh.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if kwh is not None else None
    price = SessionPrice.objects.filter(session=session).first()
    if price is not None:
        return HoldProgress(energy_kwh=energy_kwh, cost=price.gross, currency=price.currency)
    cost = session_cost_so_far(session=session, at=at or timezone.now())
    if cost is None:
        return HoldProgress(energy_kwh=energy_kwh, cost=None, currency=payment.currency)
    return HoldProgress(
        energy_kwh=energy_kwh, cost=money_round(cost.gross, payment.currency), currency=payment.currency
    )


def card_hold_stop_by_driver(*, payment: Payment) -> RemoteOutcome:
    """Ask the charger to stop the payment's session at its driver's request; the hold is then captured
    as for any stop. The request and its outcome are recorded on the payment."""
    session = card_hold_session(payment=payment)
    if session is None or session.stopped_at is not None:
        return RemoteOutcome(False, "The session is not running.")
    now = timezone.now()
    outcome = session_stop_remotely(session=session, requested_by=f"card payment {payment.pk} driver")
    stop_outcome = f"Stop asked by the driver: {outcome.message}"[:200]
    Payment.objects.filter(pk=payment.pk).update(stop_requested_at=now, stop_outcome=stop_outcome)
    payment.stop_requested_at, payment.stop_outcome = now, stop_outcome
    return outcome
