"""The link to a guest's payment page, for the mail of a document of a session paid without an account."""

from __future__ import annotations

from django import template

from billing.guest_selectors import guest_payment_for_session
from billing.models import Invoice

register = template.Library()


@register.simple_tag
def guest_payment_url(invoice: Invoice) -> str:
    """`{% guest_payment_url invoice as url %}`: the absolute signed link to the guest's payment page
    (its session, receipt and PDF), or "" when the session was not paid without an account."""
    from billing.services.card_hold_guest import guest_link_url  # the services import invoicing

    payment = guest_payment_for_session(invoice.session_id)
    return guest_link_url(payment) if payment is not None else ""
