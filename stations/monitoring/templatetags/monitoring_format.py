from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def hours(delta: timedelta) -> str:
    """A duration as hours:minutes:seconds, so that a few seconds of downtime still show."""
    seconds = round(delta.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
