"""Read-only queries of the driver portal; each is scoped to the driver it is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.domain import PAYMENT_TAG_PREFIX
from accounts.models import IdToken, User
from stations.domain import ConnectorStatus, RegistrationStatus
from stations.models import ChargingSession, Connector, Site, Station
from stations.services.access import site_zone, sites_usable_by

# What a driver wants to know of a plug: can I charge here now? Reserved counts as busy: not for them.
AVAILABLE, BUSY, OFFLINE = "available", "busy", "offline"
OUT_OF_SERVICE = frozenset({ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED, ConnectorStatus.UNKNOWN})
# A whole-charger status (1.6 connectorId 0) of these takes every plug out of service.
STATION_OUT_OF_SERVICE = frozenset({ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED})


@dataclass(frozen=True)
class ConnectorState:
    name: str
    status_label: str
    availability: str
    since: datetime | None


@dataclass(frozen=True)
class ChargerState:
    identity: str
    is_online: bool
    connectors: list[ConnectorState]


@dataclass(frozen=True)
class SiteSummary:
    site: Site
    charger_count: int
    available: int
    busy: int
    offline: int


@dataclass(frozen=True)
class SessionRow:
    session: ChargingSession
    site_name: str
    charger: str
    duration: str
    energy_kwh: Decimal | None
    is_charging: bool
    zone: ZoneInfo  # the site's: times read as on the clock where the driver charged


def plug_name(connector: Connector) -> str:
    """Name a connector as drivers read it: "Plug 2", or "Plug 2/2" for the second connector of EVSE 2."""
    return f"Plug {connector.evse_id}" + (f"/{connector.connector_id}" if connector.connector_id != 1 else "")


def connector_state(*, station: Station, connector: Connector) -> ConnectorState:
    """Say whether a driver could plug in here now; a charger that is offline has no free plug."""
    name = plug_name(connector)
    if not station.is_online:
        return ConnectorState(name, "Offline", OFFLINE, station.last_seen_at)
    if station.status in STATION_OUT_OF_SERVICE:
        return ConnectorState(name, station.get_status_display(), OFFLINE, connector.status_since)
    if connector.status == ConnectorStatus.AVAILABLE:
        availability = AVAILABLE
    elif connector.status in OUT_OF_SERVICE:
        availability = OFFLINE
    else:
        availability = BUSY
    return ConnectorState(name, connector.get_status_display(), availability, connector.status_since)


def _usable_stations() -> Prefetch:
    # Pending and rejected chargers are not in service: a driver has no use for them.
    stations = Station.objects.filter(registration_status=RegistrationStatus.ACCEPTED)
    return Prefetch("stations", queryset=stations.prefetch_related("connectors"))


def site_list_for_driver(*, user: User, query: str = "") -> QuerySet[Site]:
    """Return the sites the driver may charge at, matching the query in name or address."""
    sites = sites_usable_by(user)
    if query:
        sites = sites.filter(Q(name__icontains=query) | Q(address__icontains=query))
    return sites.prefetch_related(_usable_stations()).order_by("name", "pk")


def site_summary(site: Site) -> SiteSummary:
    """Count the site's plugs by availability; needs a site from site_list_for_driver."""
    stations = site.stations.all()
    states = [
        connector_state(station=station, connector=connector)
        for station in stations
        for connector in station.connectors.all()
    ]
    return SiteSummary(
        site=site,
        charger_count=len(stations),
        available=sum(state.availability == AVAILABLE for state in states),
        busy=sum(state.availability == BUSY for state in states),
        offline=sum(state.availability == OFFLINE for state in states),
    )


def site_chargers(site: Site) -> list[ChargerState]:
    """Return the site's chargers with each plug's state; needs a site from site_list_for_driver."""
    return [
        ChargerState(
            identity=station.identity,
            is_online=station.is_online,
            connectors=[connector_state(station=station, connector=c) for c in station.connectors.all()],
        )
        for station in site.stations.all()
    ]


def session_list_for_driver(*, user: User) -> QuerySet[ChargingSession]:
    """Return the sessions charged with the driver's cards, newest first."""
    return (
        ChargingSession.objects.filter(id_token__owner=user, started_at__isnull=False)
        .select_related("station__site", "connector")
        .order_by("-started_at", "-pk")
    )


def session_row(session: ChargingSession, *, now: datetime | None = None) -> SessionRow:
    """Describe one of the driver's sessions: where, how long, how much energy."""
    end = session.stopped_at or now or timezone.now()
    energy_wh = session.live_energy_wh
    site = session.station.site
    return SessionRow(
        session=session,
        site_name=site.name if site else "",
        charger=session.station.identity + (f", {plug_name(session.connector)}" if session.connector else ""),
        duration=duration_text(end - session.started_at) if session.started_at else "",
        energy_kwh=Decimal(energy_wh) / 1000 if energy_wh is not None else None,
        is_charging=session.stopped_at is None,
        zone=site_zone(site),
    )


def duration_text(duration: timedelta) -> str:
    """Write a duration as hours and minutes, "2 h 05 min" or "12 min"."""
    minutes = max(int(duration.total_seconds()) // 60, 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def id_token_list_for_driver(*, user: User) -> QuerySet[IdToken]:
    """Return the cards the driver carries, newest first."""
    return (
        IdToken.objects.filter(owner=user)
        .exclude(id_tag__istartswith=PAYMENT_TAG_PREFIX)  # one-off tags of card payments, not cards
        .select_related("organization")
        .order_by("-created_at", "-pk")
    )
