"""The cost and receipt of a session on the driver portal's pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.urls import reverse

from accounts.models import User
from billing.invoicing_selectors import SessionBilling, session_billing_for_driver
from billing.services.payments import payment_needing_driver
from stations.models import ChargingSession

register = template.Library()


@register.simple_tag
def session_billing(session: ChargingSession, user: User) -> SessionBilling:
    """`{% session_billing row.session user as billing %}`: the session's price and document."""
    return session_billing_for_driver(user=user, session=session)


@register.simple_tag
def session_payment_action(session: ChargingSession, user: User) -> str:
    """`{% session_payment_action row.session user as confirm_url %}`: where the driver confirms a
    payment of the session their bank wants authenticated, or ""."""
    payment = payment_needing_driver(user=user, session=session)
    return reverse("billing:payment_authenticate", kwargs={"payment_id": payment.pk}) if payment else ""


@register.simple_tag
def session_unplug_wait(session: ChargingSession | None) -> datetime | None:
    """`{% session_unplug_wait row.session as unplug_until %}`: until when the ended session's bill
    waits for the car to be unplugged (its idle time is priced to the unplug), or None."""
    from billing.services.unplug_wait import session_awaits_unplug

    return session_awaits_unplug(session) if session is not None else None
