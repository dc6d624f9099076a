"""Small renderers shared by the admin pages: status chips, "x min ago", links, JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from stations.domain import ConnectorStatus
from stations.models import Connector, Station

CSS = {"all": ["admin/csms.css"]}
# Chips read from what needs attention to what is idle.
STATUS_ORDER = {
    status: i
    for i, status in enumerate(
        [
            "faulted",
            "charging",
            "suspended_ev",
            "suspended_evse",
            "preparing",
            "finishing",
            "occupied",
            "reserved",
            "available",
            "unavailable",
            "unknown",
        ]
    )
}


def ago(moment: datetime | None) -> str:
    """Say how long ago, in the coarsest unit that fits: "just now", "4 min ago", "3 h ago", "2 d ago"."""
    if moment is None:
        return "never"
    seconds = max(int((timezone.now() - moment).total_seconds()), 0)
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def chip(label: object, css: str, title: str = "") -> SafeString:
    return format_html('<span class="csms-chip csms-{}" title="{}">{}</span>', css, title, label)


def when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def short_time(moment: datetime | None, since: datetime | None = None) -> str:
    """Format compactly: the time alone on the day of `since`, no year in the current year."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    if since is not None and timezone.localtime(since).date() == local.date():
        return local.strftime("%H:%M")
    return local.strftime("%d %b %H:%M" if local.year == timezone.localtime().year else "%Y-%m-%d %H:%M")


def pretty_json(value: Any) -> SafeString:
    if value in (None, ""):
        return format_html('<span class="csms-muted">{}</span>', "none")
    return format_html('<pre class="csms-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


def online_badge(station: Station) -> SafeString:
    seen = when(station.last_seen_at)
    if station.is_online:
        return format_html(
            '{}<br><small class="csms-ago">seen {}</small>',
            chip("online", "online", seen),
            ago(station.last_seen_at),
        )
    if station.last_seen_at is None:
        return chip("never connected", "unknown")
    return format_html(
        '{}<br><small class="csms-ago">last seen {}</small>',
        chip("offline", "offline", seen),
        ago(station.last_seen_at),
    )


def connector_chips(connectors: Iterable[Connector]) -> SafeString:
    """Summarise the connectors as one chip per status with its count, e.g. "1 Charging" "2 Available"."""
    connectors = list(connectors)
    if not connectors:
        return format_html('<span class="csms-muted">{}</span>', "none reported")
    counts = Counter(c.status for c in connectors)
    return format_html_join(
        " ",
        "{}",
        (
            (
                chip(
                    f"{n} {ConnectorStatus(status).label}",
                    status,
                    ", ".join(
                        f"#{c.evse_id} since {ago(c.status_since)}" for c in connectors if c.status == status
                    ),
                ),
            )
            for status, n in sorted(counts.items(), key=lambda item: STATUS_ORDER.get(item[0], 99))
        ),
    )


def admin_link(obj: Any, label: object | None = None) -> SafeString:
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if label is None else label)


def changelist_url(model: type[Any], **params: object) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse(f"admin:stations_{model._meta.model_name}_changelist") + (f"?{query}" if query else "")


def kwh(wh: int | None) -> str:
    return "" if wh is None else f"{wh / 1000:.2f} kWh"
