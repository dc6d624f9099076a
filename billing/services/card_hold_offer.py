"""What paying at a connector offers: its state, the price, the hold, or why paying is not possible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from accounts.models import User
from billing.payments.base import payments_configured
from billing.services.pricing import PricePreview, price_preview
from stations.domain import AccessPolicy, ConnectorStatus
from stations.models import Connector, Station
from stations.services.access import rule_window_end, rules_for_station, site_zone

# Connector states in which a driver can start: free, or plugged in and waiting.
STARTABLE = (ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING)


@dataclass(frozen=True)
class HoldOffer:
    """What the pay page shows for one connector, and why no payment is offered when it is not."""

    station: Station
    evse_id: int
    status: str
    preview: PricePreview | None
    hold_amount: Decimal
    unavailable: str  # "" when the driver can pay and charge now


def public_may_charge(*, station: Station, at: datetime) -> bool:
    """Whether a card that belongs to no access group may charge here now (open site or public rule)."""
    site = station.site
    if site is None:
        return False
    if site.access_policy == AccessPolicy.OPEN:
        return True
    zone = site_zone(site)
    return any(
        rule.group_id is None and rule_window_end(rule, at, zone)[0] for rule in rules_for_station(station)
    )


def card_hold_offer(*, station: Station, evse_id: int, user: User | None, at: datetime) -> HoldOffer:
    """The price, the hold and the connector's state, and why paying is not possible when it is not."""
    connector = Connector.objects.filter(station=station, evse_id=evse_id).order_by("connector_id").first()
    preview = price_preview(station=station, connector=connector, user=user, at=at)
    status = connector.status if connector is not None else ConnectorStatus.UNKNOWN
    reason = ""
    if not payments_configured():
        reason = "Card payments are not available on this site."
    elif not public_may_charge(station=station, at=at):
        reason = "This charger is not open to the public now, so it cannot be paid for by card."
    elif preview is None:
        reason = "No price is set for this charger, so it cannot be paid for by card."
    elif not station.is_online:
        reason = "The charger is offline just now."
    elif connector is None:
        reason = "This charger has no such connector."
    elif status not in STARTABLE:
        reason = f"The connector is {connector.get_status_display().lower()} just now."
    return HoldOffer(
        station=station,
        evse_id=evse_id,
        status=status,
        preview=preview,
        hold_amount=Decimal(settings.CSMS_CARD_HOLD_AMOUNT),
        unavailable=reason,
    )
