"""The per-site energy charts in the admin and the fleet plan's page: they render for a superuser with
what the site holds (load over time, allocation per charger, the plan and its saving), a manager reaches
only their own sites, and the charts' geometry is right."""

from __future__ import annotations

import math
import time as time_module
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.domain import Role
from billing.models import Tariff, TariffAssignment, TariffBand
from energy.admin.charts import MAX_POINTS, load_points
from energy.admin.charts_svg import LoadPoint, load_chart, nice_top, plan_chart
from energy.models import (
    Allocation,
    AllocationStatus,
    ChargerWiring,
    ChargingNeed,
    FleetPlanRecord,
    FleetPlanStatus,
    FleetVehicle,
    SiteGrid,
    SiteLoadSample,
)
from energy.services import fleet_triggers
from energy.services.fleet import site_fleet_plan_compute
from energy.services.fleet_replan import fleet_plan_record
from energy.services.fleet_state import RecordedPeriod, RecordedPlan, RecordedSlot, RecordedVehicle
from stations.models import ChargingSession, Connector, Site
from tests.factories import (
    IdTokenFactory,
    MembershipFactory,
    OrganizationFactory,
    SiteFactory,
    StationFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")


def demo_site(name: str = "Harbour Depot", now: datetime | None = None) -> Site:
    """A depot like the demo's: a 63 A connection, three fleet vans and a visitor charging, a day of load
    samples, the balancer's allocations, a time-of-use tariff and the fleet plan computed from it."""
    now = now or timezone.now()
    organization = OrganizationFactory(name=f"{name} Logistics")
    site = SiteFactory(name=name, organization=organization, time_zone="Europe/Berlin")
    SiteGrid.objects.create(site=site, phase_limit_amps=D(63), base_load_amps=D(8))
    tariff = Tariff.objects.create(
        organization=organization, name="Depot energy", energy_price_per_kwh=D("0.32")
    )
    # Bands placed from the hour the test runs, so that waiting always pays: a peak now, off-peak later.
    hour = now.astimezone(BERLIN).hour
    TariffBand.objects.create(
        tariff=tariff,
        label="Peak",
        window_start=time(hour),
        window_end=time((hour + 3) % 24),
        energy_price_per_kwh=D("0.42"),
    )
    TariffBand.objects.create(
        tariff=tariff,
        label="Off-peak",
        window_start=time((hour + 4) % 24),
        window_end=time((hour + 10) % 24),
        energy_price_per_kwh=D("0.16"),
    )
    TariffAssignment.objects.create(tariff=tariff, site=site)
    vans = [
        ("Van 1", "32", D("22"), D("40")),
        ("Van 2", "32", D("11"), D("30")),
        ("Van 3", "16", D("11"), D("20")),
    ]
    slug = name.split()[0].upper()
    for number, (van, amps, max_kw, energy) in enumerate([*vans, ("Visitor", "16", None, None)], 1):
        station = StationFactory(
            identity=f"{slug}-{number:02d}", site=site, is_online=True, protocol="ocpp1.6"
        )
        ChargerWiring.objects.create(station=station, phases=3 if van != "Visitor" else 1, max_amps=D(amps))
        connector = Connector.objects.create(station=station, evse_id=1)
        token = IdTokenFactory(organization=organization)
        if max_kw is not None:
            vehicle = FleetVehicle.objects.create(
                organization=organization, name=van, id_token=token, battery_kwh=D(75), max_kw=max_kw
            )
            ChargingNeed.objects.create(
                vehicle=vehicle, departure_at=now + timedelta(hours=9 + number), energy_kwh=energy
            )
        session = ChargingSession.objects.create(
            station=station,
            connector=connector,
            id_token=token,
            id_tag=token.id_tag,
            external_id=str(number),
            started_at=now - timedelta(hours=1),
            meter_start_wh=0,
        )
        Allocation.objects.create(
            station=station,
            evse_id=1,
            session=session,
            amps=D(0) if max_kw is not None else D(16),
            measured_amps=None if max_kw is not None else D("15.2"),
            reason="fleet plan: 0 A" if max_kw is not None else "its maximum",
            status=AllocationStatus.ACCEPTED,
        )
    idle = StationFactory(identity=f"{slug}-05", site=site, is_online=True)
    ChargerWiring.objects.create(station=idle, phases=3, max_amps=D(32))
    Allocation.objects.create(station=idle, evse_id=1, amps=D("23.8"), reason="free for the next car")
    samples = []
    for step in range(24 * 12):
        at = now - timedelta(minutes=5 * (24 * 12 - step))
        hour = at.astimezone(BERLIN).hour + at.astimezone(BERLIN).minute / 60
        evening = max(0.0, math.sin((hour - 15) / 8 * math.pi)) if 15 <= hour <= 23 else 0.0
        night = 0.8 if hour >= 23 or hour < 4 else 0.0
        base = 10 + 38 * evening + 30 * night + 3 * math.sin(step / 5)
        measured = [D(str(round(base * factor, 1))) for factor in (1.0, 0.86, 0.78)]
        allocated = D(str(round(min(base + 6, 55), 1)))
        samples.append(
            SiteLoadSample(
                site=site,
                at=at,
                measured_l1_amps=measured[0],
                measured_l2_amps=measured[1],
                measured_l3_amps=measured[2],
                allocated_l1_amps=allocated,
                allocated_l2_amps=allocated,
                allocated_l3_amps=allocated,
                limit_amps=D(63),
                charging=2,
            )
        )
    SiteLoadSample.objects.bulk_create(samples)
    draft = site_fleet_plan_compute(site_id=site.pk, now=now)
    assert draft is not None
    fleet_plan_record(draft=draft, answers=[(AllocationStatus.ACCEPTED, "")] * len(draft.schedules))
    return site


def quiet_demo_site() -> Site:
    """The demo depot, made while a replan of it is marked pending, so that its edits (which re-plan
    sites with a fleet once committed) schedule none: its plan stays the one made here."""
    with transaction.atomic():
        site = demo_site()
        cache.add(fleet_triggers.FLEET_REPLAN.pending_key(site.pk), 1, timeout=120)
    return site


def money(amount: Decimal) -> str:
    """As the page shows it (floatformat:2 rounds half up: 3.725 is 3.73)."""
    return str(amount.quantize(D("0.01"), ROUND_HALF_UP))


def charts_url(site: Site) -> str:
    return reverse("admin:energy_site_charts", args=[site.pk])


def test_the_charts_page_shows_the_load_the_allocations_and_the_fleet_plan(admin_client):
    site = demo_site()

    response = admin_client.get(charts_url(site))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg viewBox="0 0 960 ') == 3
    assert "Load per phase over time, against the limit" in html and "the limit of 63.0 A" in html
    assert html.count('class="csms-series') == 4  # L1, L2, L3 measured and the allocated
    for identity in ("HARBOUR-01 #1", "HARBOUR-04 #1", "HARBOUR-05 #1"):
        assert f"<title>{identity}:" in html
    assert "HARBOUR-04 #1: 16.0 of 16.0 A, drawing 15.2 A." in html  # in the chart's description
    record = FleetPlanRecord.objects.get(site=site)
    assert record.saving > 0 and f"{money(record.saving)} EUR" in html
    for van in ("Van 1", "Van 2", "Van 3"):
        assert f"<td>{van}</td>" in html
    assert 'class="csms-block"' in html and "leaves at" in html
    assert "Plan again now" in html

    hours = admin_client.get(charts_url(site), {"hours": "72"})
    assert hours.status_code == 200 and "<strong>72 h</strong>" in hours.content.decode()


def test_the_plans_page_lists_each_vehicles_periods_departure_shortfall_and_the_saving(admin_client):
    site = demo_site()
    record = FleetPlanRecord.objects.get(site=site)
    van = next(v for v in record.plan["vehicles"] if v["name"] == "Van 1")

    response = admin_client.get(reverse("admin:energy_fleetplanrecord_change", args=[record.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    departure = datetime.fromisoformat(van["departure"]).astimezone(BERLIN)
    assert departure.strftime("%a %H:%M") in html
    first = van["periods"][0]
    start = datetime.fromisoformat(first["start"]).astimezone(BERLIN)
    assert f"{start:%H:%M}–" in html and f"({first['amps']} A)" in html
    assert "Charging every vehicle at once" in html and f"{money(record.cost_immediate)} EUR" in html
    assert f"{money(record.saving)} EUR" in html and "Fleet plan: charging power per vehicle" in html

    changelist = admin_client.get(reverse("admin:energy_fleetplanrecord_changelist")).content.decode()
    assert charts_url(site) in changelist and reverse("admin:energy_site_chart_list") in changelist


def test_a_manager_sees_only_their_own_sites_charts_and_a_viewer_may_not_re_plan(client: Client):
    own = demo_site("Harbour Depot")
    other = demo_site("Airport Depot")
    manager = MembershipFactory(organization=own.organization, role=Role.MANAGER).user
    client.force_login(manager)

    assert client.get(charts_url(own)).status_code == 200
    assert client.get(charts_url(other)).status_code == 404
    listing = client.get(reverse("admin:energy_site_chart_list")).content.decode()
    assert "Harbour Depot" in listing and "Airport Depot" not in listing
    assert client.post(reverse("admin:energy_site_replan", args=[other.pk])).status_code == 404
    records = client.get(reverse("admin:energy_fleetplanrecord_changelist")).content.decode()
    assert "Airport Depot" not in records
    other_record = FleetPlanRecord.objects.get(site=other)
    assert (
        client.get(reverse("admin:energy_fleetplanrecord_change", args=[other_record.pk])).status_code == 302
    )

    viewer = MembershipFactory(organization=own.organization, role=Role.VIEWER).user
    client.force_login(viewer)
    page = client.get(charts_url(own))
    assert page.status_code == 200 and "Plan again now" not in page.content.decode()
    assert client.post(reverse("admin:energy_site_replan", args=[own.pk])).status_code == 403
    assert client.get(reverse("admin:energy_site_replan", args=[own.pk])).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_managers_plan_again_re_plans_the_site_within_seconds(client: Client):
    site = quiet_demo_site()
    before = FleetPlanRecord.objects.get(site=site)
    client.force_login(MembershipFactory(organization=site.organization, role=Role.MANAGER).user)
    cache.delete(fleet_triggers.FLEET_REPLAN.pending_key(site.pk))

    response = client.post(reverse("admin:energy_site_replan", args=[site.pk]), follow=True)

    assert response.redirect_chain == [(charts_url(site), 302)]
    assert "planned again in a few seconds" in response.content.decode()
    deadline = time_module.monotonic() + 10
    while not FleetPlanRecord.objects.exclude(pk=before.pk).filter(site=site).exists():
        assert time_module.monotonic() < deadline, "no new plan"
        time_module.sleep(0.1)
    before.refresh_from_db()
    assert before.status == FleetPlanStatus.SUPERSEDED


def test_a_site_without_samples_allocations_or_plan_says_so(admin_client):
    site = SiteFactory(organization=OrganizationFactory())

    html = admin_client.get(charts_url(site)).content.decode()

    assert "No load recorded in this period" in html and "No allocation yet" in html
    assert "No fleet plan yet" in html and "grid connection is not set up" in html
    assert "Plan again now" not in html


def test_many_samples_are_merged_without_losing_a_peak():
    site = SiteFactory()
    now = timezone.now()
    SiteLoadSample.objects.bulk_create(
        SiteLoadSample(
            site=site,
            at=now - timedelta(seconds=10 * n),
            measured_l1_amps=D(50 if n == 777 else 10),
            limit_amps=D(63),
        )
        for n in range(3000)
    )

    points = load_points(site.pk, now - timedelta(hours=24))

    assert len(points) <= MAX_POINTS
    assert max(p.measured[0] for p in points) == D(50)


def test_the_load_chart_maps_amps_and_time_onto_the_plot():
    since = datetime(2026, 3, 10, 0, 0, tzinfo=BERLIN)
    points = [
        LoadPoint(since, (D(10), D(0), D(0)), D(20), D(40)),
        LoadPoint(since + timedelta(hours=12), (D(30), D(0), D(0)), D(30), D(40)),
    ]

    chart = load_chart(points, since=since, until=since + timedelta(hours=24), zone=BERLIN)

    frame = chart.frame
    assert frame.top_value == 50  # 40 A * 1.05 rounded up to a tick of 10
    l1 = chart.series[0].points.split()
    # A step line: 10 A from midnight to noon, then 30 A to the end.
    assert l1 == [
        f"{frame.left}.0,{frame.y(10)}",
        f"{frame.x(since + timedelta(hours=12))},{frame.y(10)}",
        f"{frame.x(since + timedelta(hours=12))},{frame.y(30)}",
        f"{frame.right}.0,{frame.y(30)}",
    ]
    assert chart.limit[0].points.split()[0] == f"{frame.left}.0,{frame.y(40)}"
    assert [t.label for t in chart.x_ticks] == [
        "03:00",
        "06:00",
        "09:00",
        "12:00",
        "15:00",
        "18:00",
        "21:00",
        "Wed 00:00",
    ]
    assert nice_top(42) == (50, 10) and nice_top(7.3) == (8, 2) and nice_top(0) == (1, 0.2)


def test_the_plan_chart_stacks_the_vehicles_over_price_bands():
    start = datetime(2026, 3, 10, 22, 0, tzinfo=BERLIN)
    hour = timedelta(hours=1)

    def vehicle(session: int, name: str, periods: list[tuple[int, int, str]]) -> RecordedVehicle:
        return RecordedVehicle(
            session,
            name,
            session,
            session,
            f"CP{session}",
            1,
            start + 4 * hour,
            D(11),
            D(11),
            D(0),
            D(1),
            tuple(
                RecordedPeriod(start + a * hour, start + b * hour, D(kw), D("15.9")) for a, b, kw in periods
            ),
            start + 4 * hour,
            "accepted",
            "",
        )

    slots = tuple(
        RecordedSlot(start + n * hour, start + (n + 1) * hour, D(price), D(22))
        for n, price in enumerate(["0.30", "0.10", "0.10", "0.30"])
    )
    plan = RecordedPlan(
        start,
        start + 4 * hour,
        "Depot",
        D(22),
        slots,
        (vehicle(1, "A", [(1, 3, "11")]), vehicle(2, "B", [(2, 3, "5.5")])),
    )

    chart = plan_chart(plan, zone=BERLIN, currency="EUR")

    frame = chart.frame
    assert [(b.title, b.x, b.width) for b in chart.bands] == [
        ("0.3 EUR/kWh", frame.x(start), frame.x(start + hour) - frame.x(start)),
        ("0.1 EUR/kWh", frame.x(start + hour), frame.x(start + 3 * hour) - frame.x(start + hour)),
        ("0.3 EUR/kWh", frame.x(start + 3 * hour), frame.x(start + 4 * hour) - frame.x(start + 3 * hour)),
    ]
    a_first, a_second, b = chart.blocks
    assert a_first.title == "A: 11 kW (15.9 A), 23:00–00:00" and a_second.y == frame.y(11)
    assert b.title == "B: 5.5 kW (15.9 A), 00:00–01:00"
    assert b.y == frame.y(D("16.5")) and b.y + b.height == frame.y(11)  # on top of A
    assert chart.capacity_y == frame.y(22) and [d.title for d in chart.departures] == [
        "A leaves at 02:00",
        "B leaves at 02:00",
    ]
    assert [p.colour for p in chart.prices] == ["#e3f5e8", "#fde2e1"]
