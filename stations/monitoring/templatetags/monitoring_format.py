from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.2f}"
