"""Who a session paid at the charger without an account belongs to, and the signed link to it.

A guest follows their session on a page reached by a signed link: the payment's id signed with
Django's TimestampSigner under its own salt. It cannot be guessed or altered without SECRET_KEY, names
one payment only, and expires after GUEST_LINK_MAX_AGE; nothing secret is stored.

Kept apart from the card hold services so that invoicing (which mails the receipt with the link) and
the document facts can use it without importing the payment services, which import invoicing."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from billing.domain import PaymentMethodKind
from billing.models import Payment
from billing.payments.base import PaymentError

GUEST_LINK_SALT = "billing.card_hold_guest.link"
# Long enough to find the receipt again from the mail; the PDF is attached to it for later.
GUEST_LINK_MAX_AGE = timedelta(days=90)


class GuestLinkError(PaymentError):
    """A guest link that opens nothing."""


class GuestLinkInvalid(GuestLinkError):
    """A link not made here (forged, altered, mistyped), or one naming no guest payment."""


class GuestLinkExpired(GuestLinkError):
    """A genuine link older than GUEST_LINK_MAX_AGE."""


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


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=GUEST_LINK_SALT)


def guest_link_token(payment: Payment) -> str:
    """The signed token of a guest's payment, for its links (a new one each call, all valid)."""
    return _signer().sign(str(payment.pk))


def guest_link_url(payment: Payment) -> str:
    """The guest's page of the payment, absolute when SITE_URL is set (for mails)."""
    path = reverse("billing:guest_payment", kwargs={"token": guest_link_token(payment)})
    return settings.SITE_URL.rstrip("/") + path


def guest_payment_from_link(token: str) -> Payment:
    """The guest payment a link names; GuestLinkExpired or GuestLinkInvalid otherwise."""
    try:
        value = _signer().unsign(token, max_age=GUEST_LINK_MAX_AGE)
    except signing.SignatureExpired as error:
        raise GuestLinkExpired("This link has expired.") from error
    except (signing.BadSignature, ValueError) as error:  # ValueError: signed, but without a timestamp
        raise GuestLinkInvalid("No such payment.") from error
    payment = (
        Payment.objects.filter(method=PaymentMethodKind.CARD_HOLD, user__isnull=True, pk=int(value))
        .exclude(guest_email="")
        .select_related("station__site", "session")
        .first()
        if value.isdigit()
        else None
    )
    if payment is None:
        raise GuestLinkInvalid("No such payment.")
    return payment


def guest_session_link(session_id: int | None) -> str:
    """The absolute link to the guest's page of a session paid without an account, or ""."""
    payment = guest_payment_for_session(session_id)
    return guest_link_url(payment) if payment is not None else ""
