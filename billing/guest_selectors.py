"""Who a session paid at the charger without an account belongs to: the guest's payment and address.

Kept apart from the card hold services so that invoicing (which mails the receipt) and the document
facts can ask without importing the payment services, which import invoicing."""

from __future__ import annotations

from billing.domain import PaymentMethodKind
from billing.models import Payment


def guest_payment_for_session(session_id: int | None) -> Payment | None:
    """The card hold a driver without an account paid the session with, or None."""
    if session_id is None:
        return None
    return (
        Payment.objects.filter(session_id=session_id, method=PaymentMethodKind.CARD_HOLD, user__isnull=True)
        .exclude(guest_email="")
        .order_by("pk")
        .first()
    )


def guest_email_for_session(session_id: int | None) -> str:
    """The address a driver without an account gave for the session's receipt, or ""."""
    payment = guest_payment_for_session(session_id)
    return payment.guest_email if payment is not None else ""
