"""The cost and receipt of a session on the driver portal's sessions page."""

from __future__ import annotations

from django import template

from accounts.models import User
from billing.invoicing_selectors import SessionBilling, session_billing_for_driver
from stations.models import ChargingSession

register = template.Library()


@register.simple_tag
def session_billing(session: ChargingSession, user: User) -> SessionBilling:
    """`{% session_billing row.session user as billing %}`: the session's price and document."""
    return session_billing_for_driver(user=user, session=session)
