"""What the network dashboard shows: per site, chargers online / offline / charging / faulted, power drawn
now, sessions and energy today (in the site's time zone); and per day, energy and utilization, whose
today is also pushed with each site's row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import User
from accounts.tenancy import organizations_of
from stations.domain import ConnectorStatus
from stations.models import ChargingSession, Connector, MeterSample, Site, Station
from stations.services.access import site_zone

CHARGING_STATUSES = frozenset({ConnectorStatus.CHARGING.value, ConnectorStatus.OCCUPIED.value})
FAULTED_STATUSES = frozenset({ConnectorStatus.FAULTED.value})
OUTLET = ["", "Outlet"]  # the sample's location: the car's side, not the charger's own supply
VOLTS_PER_PHASE = Decimal(230)  # to estimate power from currents when a charger reports no power


@dataclass(frozen=True)
class SiteLive:
    site_id: int
    name: str
    chargers: int
    online: int
    offline: int
    connectors: int
    charging: int  # connectors of online chargers reporting Charging (2.0.1: Occupied)
    faulted: int  # connectors of online chargers reporting Faulted, or whose charger reports Faulted
    power_w: int  # drawn now by the open sessions of online chargers
    sessions_today: int
    energy_today_wh: int  # of the sessions started today, so far

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dashboard_sites(user: User | AnonymousUser) -> list[Site]:
    """The sites a staff member may watch: their organizations'; every site for a superuser."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return []
    sites = Site.objects.order_by("name")
    if not user.is_superuser:
        sites = sites.filter(organization__in=organizations_of(user))
    return list(sites)


def _power_w(session_ids: list[int]) -> int:
    """The latest Power.Active.Import of each open session (one query for all), else its latest
    currents times 230 V."""
    latest_power = MeterSample.objects.filter(
        session_id=OuterRef("pk"), measurand="Power.Active.Import", phase="", location__in=OUTLET
    ).order_by("-sampled_at")
    sessions = ChargingSession.objects.filter(pk__in=session_ids).annotate(
        power=Subquery(latest_power.values("value")[:1]), power_unit=Subquery(latest_power.values("unit")[:1])
    )
    total = Decimal(0)
    for session_id, power, unit in sessions.values_list("pk", "power", "power_unit"):
        if power is not None:
            total += power * (1000 if unit == "kW" else 1)
        else:
            total += _power_from_currents_w(session_id)
    return int(total)


def _power_from_currents_w(session_id: int) -> Decimal:
    currents = MeterSample.objects.filter(
        session_id=session_id, measurand="Current.Import", location__in=OUTLET
    ).exclude(phase="N")
    latest = currents.order_by("-sampled_at").values_list("sampled_at", flat=True).first()
    if latest is None:
        return Decimal(0)
    values = currents.filter(sampled_at=latest).values_list("value", flat=True)
    return sum(values, Decimal(0)) * VOLTS_PER_PHASE


def local_day_start(site: Site, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=site_zone(site))


def next_day_start(sites: Iterable[Site], *, now: datetime | None = None) -> datetime | None:
    """The first of the sites' local midnights after `now`: where a dashboard's "today" rolls over."""
    now = now or timezone.now()
    return min(
        (local_day_start(site, now.astimezone(site_zone(site)).date() + timedelta(days=1)) for site in sites),
        default=None,
    )


def site_live(site: Site, *, today: SiteDay) -> SiteLive:
    """The site's row now; its sessions and energy of today from `today` (site_today)."""
    stations = list(Station.objects.filter(site=site).values_list("pk", "is_online", "status"))
    faulty_stations = {pk for pk, _, status in stations if status in FAULTED_STATUSES}
    # An offline charger's last statuses and open sessions are stale: it counts as offline only.
    connectors = list(Connector.objects.filter(station__site=site).values_list("station_id", "status"))
    online_ids = {pk for pk, is_online, _ in stations if is_online}
    open_sessions = list(
        ChargingSession.objects.running()
        .filter(station__site=site, station__is_online=True)
        .values_list("pk", flat=True)
    )
    online = len(online_ids)
    return SiteLive(
        site_id=site.pk,
        name=site.name,
        chargers=len(stations),
        online=online,
        offline=len(stations) - online,
        connectors=len(connectors),
        charging=sum(1 for sid, status in connectors if sid in online_ids and status in CHARGING_STATUSES),
        faulted=sum(
            1
            for sid, status in connectors
            if sid in online_ids and (status in FAULTED_STATUSES or sid in faulty_stations)
        ),
        power_w=_power_w(open_sessions),
        sessions_today=today.sessions,
        energy_today_wh=today.energy_wh,
    )


def sites_live(site_ids: Iterable[int]) -> list[SiteLive]:
    now = timezone.now()
    sites = Site.objects.filter(pk__in=list(site_ids)).order_by("name")
    return [site_live(site, today=site_today(site, now=now)) for site in sites]


@dataclass(frozen=True)
class DayFigures:
    day: date
    energy_wh: int  # of the sessions started that day
    utilization: float  # share of connector-time with a session open, 0 to 1


@dataclass(frozen=True)
class SiteDay:
    """One site's figures for one of its local days, in the sums a chart of several sites adds up."""

    day: date
    sessions: int  # started that day
    energy_wh: int  # of the sessions started that day
    busy_s: float  # connector-seconds with a session open
    capacity_s: float  # connector-seconds of the day, up to now

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "day": self.day.isoformat()}


def site_days(site: Site, *, days: int, now: datetime | None = None) -> list[SiteDay]:
    """The site's last `days` local days (today, so far, last)."""
    now = now or timezone.now()
    today = now.astimezone(site_zone(site)).date()
    first_day = today - timedelta(days=days - 1)
    since = local_day_start(site, first_day)
    connectors = Connector.objects.filter(station__site=site).count()
    sessions = ChargingSession.objects.filter(station__site=site, started_at__lt=now).filter(
        Q(stopped_at__isnull=True) | Q(stopped_at__gt=since)
    )
    spans = [(s.started_at, s.stopped_at or now, s) for s in sessions if s.started_at is not None]
    figures = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        start = local_day_start(site, day)
        end = min(local_day_start(site, day + timedelta(days=1)), now)
        busy, energy, started = 0.0, 0, 0
        for began, ended, session in spans:
            busy += max((min(ended, end) - max(began, start)).total_seconds(), 0)
            if start <= began < end:
                energy += session.live_energy_wh or 0
                started += 1
        capacity = connectors * max((end - start).total_seconds(), 0)
        figures.append(SiteDay(day=day, sessions=started, energy_wh=energy, busy_s=busy, capacity_s=capacity))
    return figures


def site_today(site: Site, *, now: datetime | None = None) -> SiteDay:
    return site_days(site, days=1, now=now)[0]


def daily_figures(sites: list[Site], *, days: int, now: datetime | None = None) -> list[DayFigures]:
    """Energy and utilization per day over the last `days` days (today included), each site's days in
    its own time zone. Utilization is connector-hours with a session open over connector-hours of the day."""
    now = now or timezone.now()
    energy: dict[date, int] = {}
    busy: dict[date, float] = {}
    capacity: dict[date, float] = {}
    for site in sites:
        for figures in site_days(site, days=days, now=now):
            energy[figures.day] = energy.get(figures.day, 0) + figures.energy_wh
            busy[figures.day] = busy.get(figures.day, 0.0) + figures.busy_s
            capacity[figures.day] = capacity.get(figures.day, 0.0) + figures.capacity_s
    all_days = sorted(capacity)[-days:]
    return [
        DayFigures(
            day=day,
            energy_wh=energy.get(day, 0),
            utilization=min(busy.get(day, 0.0) / capacity[day], 1.0) if capacity[day] else 0.0,
        )
        for day in all_days
    ]


def site_message(site: Site, *, now: datetime | None = None) -> dict[str, Any]:
    """What a dashboard is sent of a site, JSON-safe: its row, and under "today" its figures for the
    last bar of the per-day charts."""
    today = site_today(site, now=now)
    return {**site_live(site, today=today).as_dict(), "today": today.as_dict()}


def sites_messages(site_ids: Iterable[int]) -> list[dict[str, Any]]:
    now = timezone.now()
    sites = Site.objects.filter(pk__in=list(site_ids)).order_by("name")
    return [site_message(site, now=now) for site in sites]
