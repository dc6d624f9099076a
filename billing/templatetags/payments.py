"""Whether card payments are on, for the portal's menu."""

from __future__ import annotations

from django import template

from billing.payments.base import payments_configured as configured

register = template.Library()


@register.simple_tag
def payments_configured() -> bool:
    return configured()
