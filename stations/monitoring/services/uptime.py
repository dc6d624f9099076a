"""Availability per connector and per site over a period, for service-level reports.

The rule, as an operator would state it in an SLA:
- A connector is DOWN while its last reported status is Faulted or Unavailable, while its charger as a
  whole (connector 0 / the station) reports Faulted or Unavailable, or while its charger is not connected
  to the CSMS (socket closed, or marked offline after missing its heartbeat interval plus grace).
  Overlapping causes count once. Every other status (Available, Occupied, Charging, Reserved, ...) is UP.
- Time before the charger's first record (first connection or status report) is not counted, so a charger
  installed during the period is not penalised; the period ends at the earlier of its end and now.
- Availability = up time / counted time. A site's availability weighs its connectors by counted time:
  the sum of their up time over the sum of their counted time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min, Q
from django.utils import timezone

from stations.domain import ConnectorStatus
from stations.models import Connector, Site, Station, StatusChange
from stations.monitoring.models import ConnectionPeriod
from stations.monitoring.services.intervals import (
    Interval,
    intervals_clip,
    intervals_complement,
    intervals_length,
    status_intervals,
)

DOWN_STATUSES = frozenset({ConnectorStatus.FAULTED.value, ConnectorStatus.UNAVAILABLE.value})


@dataclass(frozen=True)
class Uptime:
    site: str
    station: str  # "" for a site's total
    connector: str  # "" for a site's total
    counted: timedelta
    down: timedelta
    offline: timedelta  # part of the period the charger was not connected
    faulted: timedelta  # part with a Faulted or Unavailable status (of the connector or the charger)

    @property
    def availability_percent(self) -> float | None:
        if self.counted <= timedelta(0):
            return None
        return round(100 * (self.counted - self.down) / self.counted, 3)


@dataclass(frozen=True)
class UptimeReport:
    since: datetime
    until: datetime
    connectors: list[Uptime]
    sites: list[Uptime]


def _status_changes(station: Station, connector: Connector | None, since: datetime, until: datetime) -> list:
    rows = StatusChange.objects.filter(station=station, connector=connector)
    before = (
        rows.filter(occurred_at__lt=since).order_by("-occurred_at").values_list("occurred_at", "status")[:1]
    )
    within = rows.filter(occurred_at__gte=since, occurred_at__lt=until).values_list("occurred_at", "status")
    return [*before, *within]


def _connected(station: Station, since: datetime, until: datetime) -> list[Interval]:
    periods = ConnectionPeriod.objects.filter(station=station, connected_at__lt=until).filter(
        Q(disconnected_at__isnull=True) | Q(disconnected_at__gt=since)
    )
    return intervals_clip(((p.connected_at, p.disconnected_at or until) for p in periods), since, until)


def _first_record(station: Station) -> datetime | None:
    firsts = [
        ConnectionPeriod.objects.filter(station=station).aggregate(at=Min("connected_at"))["at"],
        StatusChange.objects.filter(station=station).aggregate(at=Min("occurred_at"))["at"],
    ]
    return min((at for at in firsts if at is not None), default=None)


def station_uptimes(station: Station, *, since: datetime, until: datetime) -> list[Uptime]:
    """One Uptime per connector of the charger over [since, until)."""
    first = _first_record(station)
    site = station.site.name if station.site is not None else ""
    connectors = list(station.connectors.all())
    if first is None or first >= until:
        zero = timedelta(0)
        return [Uptime(site, station.identity, str(c), zero, zero, zero, zero) for c in connectors]
    start = max(since, first)
    offline = intervals_complement(_connected(station, start, until), start, until)
    station_down = status_intervals(
        _status_changes(station, None, start, until), since=start, until=until, matching=DOWN_STATUSES
    )
    uptimes = []
    for connector in connectors:
        connector_down = status_intervals(
            _status_changes(station, connector, start, until),
            since=start,
            until=until,
            matching=DOWN_STATUSES,
        )
        faulted = [*station_down, *connector_down]
        uptimes.append(
            Uptime(
                site=site,
                station=station.identity,
                connector=f"{connector.evse_id}/{connector.connector_id}",
                counted=max(until - start, timedelta(0)),
                down=intervals_length([*offline, *faulted]),
                offline=intervals_length(offline),
                faulted=intervals_length(faulted),
            )
        )
    return uptimes


def _site_total(name: str, rows: Iterable[Uptime]) -> Uptime:
    rows = list(rows)
    total = sum((r.counted for r in rows), timedelta())
    return Uptime(
        site=name,
        station="",
        connector="",
        counted=total,
        down=sum((r.down for r in rows), timedelta()),
        offline=sum((r.offline for r in rows), timedelta()),
        faulted=sum((r.faulted for r in rows), timedelta()),
    )


def uptime_report(*, sites: Iterable[Site], since: datetime, until: datetime) -> UptimeReport:
    """Availability of every connector of `sites` and of each site, over [since, min(until, now))."""
    until = min(until, timezone.now())
    connectors: list[Uptime] = []
    totals: list[Uptime] = []
    for site in sites:
        rows = []
        for station in site.stations.select_related("site").order_by("identity"):
            rows.extend(station_uptimes(station, since=since, until=until))
        connectors.extend(rows)
        totals.append(_site_total(site.name, rows))
    return UptimeReport(since=since, until=max(since, until), connectors=connectors, sites=totals)


UPTIME_CSV_HEADER = [
    "site",
    "charger",
    "connector",
    "counted_hours",
    "down_hours",
    "offline_hours",
    "faulted_or_unavailable_hours",
    "availability_percent",
]


def uptime_csv_rows(report: UptimeReport) -> list[list[str]]:
    """The report as CSV rows: every connector, then each site's total (charger and connector empty)."""

    def hours(delta: timedelta) -> str:
        return f"{delta.total_seconds() / 3600:.3f}"

    rows = [UPTIME_CSV_HEADER]
    for u in [*report.connectors, *report.sites]:
        percent = u.availability_percent
        rows.append(
            [
                u.site,
                u.station,
                u.connector,
                hours(u.counted),
                hours(u.down),
                hours(u.offline),
                hours(u.faulted),
                "" if percent is None else f"{percent:.3f}",
            ]
        )
    return rows
