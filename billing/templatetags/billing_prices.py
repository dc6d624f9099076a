"""Prices for drivers on portal pages: `{% load billing_prices %}{% charger_prices charger.identity %}`.

A template tag, so that the stations app's portal shows billing's prices without importing billing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

from billing.services.pricing import PricePreview, minor_unit, price_preview
from stations.models import Connector, Station
from stations.portal.selectors import plug_name
from stations.services.access import site_zone

register = template.Library()

SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
    "CHF": "CHF",
    "SEK": "kr",
    "NOK": "kr",
    "DKK": "kr",
}


@dataclass(frozen=True)
class PriceRow:
    plugs: str  # "" when every plug of the charger costs the same
    parts: list[str]
    note: str


def unit_price(value: Decimal, currency: str) -> str:
    """Write a price with the currency's decimals, more only where it has them: 0.39, 0.385, 1.00."""
    minor = minor_unit(currency)
    text = f"{value.quantize(minor):f}" if value == value.quantize(minor) else f"{value.normalize():f}"
    return f"{text} {SYMBOLS.get(currency, currency)}"


def _when(moment: datetime, now: datetime, zone: Any) -> str:
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return f"{local:%H:%M}"
    if local.date() - now.astimezone(zone).date() == timedelta(days=1):
        return f"tomorrow {local:%H:%M}"
    return f"{local:%a %H:%M}"


def price_parts(preview: PricePreview, *, now: datetime, zone: Any) -> tuple[list[str], str]:
    """Say a preview in short parts ("0.39 €/kWh") and a note (band, tax)."""
    currency = preview.currency
    parts = []
    if preview.energy_price_per_kwh:
        parts.append(f"{unit_price(preview.energy_price_per_kwh, currency)}/kWh")
    if preview.time_price_per_min:
        parts.append(f"{unit_price(preview.time_price_per_min, currency)}/min charging")
    if preview.session_fee:
        parts.append(f"{unit_price(preview.session_fee, currency)} per session")
    if preview.idle_price_per_min:
        grace = preview.idle_grace_min
        after = f" after {grace} min" if grace else ""
        parts.append(f"{unit_price(preview.idle_price_per_min, currency)}/min idle{after}")
    if not parts:
        parts.append("Free")
    notes = []
    if preview.until is not None:
        label = f"{preview.band_label} price" if preview.band_label else "This price"
        notes.append(f"{label} until {_when(preview.until, now, zone)}")
    if preview.tax_rate_percent:
        notes.append(f"incl. {preview.tax_rate_percent.normalize():f} % tax")
    return parts, " · ".join(notes)


@register.inclusion_tag("billing/_charger_prices.html", takes_context=True)
def charger_prices(context: template.Context, identity: str) -> dict[str, Any]:
    """Show what the logged-in driver pays at a charger now, per plug where plugs differ."""
    request = context.get("request")
    user = request.user if request is not None and request.user.is_authenticated else None
    station = Station.objects.select_related("site").filter(identity=identity).first()
    if station is None:
        return {"rows": []}
    now = timezone.now()
    zone = site_zone(station.site) if station.site is not None else timezone.get_current_timezone()
    connectors: list[Connector | None] = list(station.connectors.all()) or [None]
    rows: list[PriceRow] = []
    seen: dict[PricePreview, list[str]] = {}
    for connector in connectors:
        preview = price_preview(station=station, connector=connector, user=user, at=now)
        if preview is not None:
            seen.setdefault(preview, []).append(plug_name(connector) if connector else "")
    for preview, plugs in seen.items():
        parts, note = price_parts(preview, now=now, zone=zone)
        shared = len(seen) == 1 and len(plugs) == len(connectors)
        rows.append(PriceRow(plugs="" if shared else ", ".join(plugs), parts=parts, note=note))
    return {"rows": rows}
