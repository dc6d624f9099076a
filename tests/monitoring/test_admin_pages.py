"""The dashboard and uptime pages in the admin: listed in the index, scoped to the user's organizations,
figures right; the uptime CSV; offline detection and its connection history."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stations.domain import ConnectorStatus
from stations.models import ChargingSession, Connector, MeterSample, Station, StatusChange
from stations.monitoring.models import ConnectionPeriod
from stations.monitoring.services.dashboard import next_day_start, site_message
from stations.monitoring.services.history import connection_periods_reconcile
from stations.services.registry import station_mark_offline_overdue
from tests.factories import MembershipFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:monitoring_networkdashboard_changelist"
UPTIME = "admin:monitoring_uptimereport_changelist"


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def zone_past_its_first_hour() -> str:
    """A time zone whose day began over an hour ago, so that the fixture's session, started 30 minutes
    ago, is one of today's there (Berlin, but New York in Berlin's first hour after midnight)."""
    now = timezone.now()
    return next(
        zone for zone in ("Europe/Berlin", "America/New_York") if now.astimezone(ZoneInfo(zone)).hour >= 1
    )


@pytest.fixture
def depots():
    mine, theirs = MembershipFactory(), MembershipFactory()
    site = SiteFactory(
        organization=mine.organization, name="Depot North", time_zone=zone_past_its_first_hour()
    )
    other = SiteFactory(organization=theirs.organization, name="Their Depot")
    busy = StationFactory(site=site, is_online=True)
    StationFactory(site=site, is_online=False)
    StationFactory(site=other, is_online=True)
    charging = Connector.objects.create(station=busy, evse_id=1, status=ConnectorStatus.CHARGING)
    Connector.objects.create(station=busy, evse_id=2, status=ConnectorStatus.FAULTED)
    now = timezone.now()
    session = ChargingSession.objects.create(
        station=busy,
        connector=charging,
        started_at=now - timedelta(minutes=30),
        meter_start_wh=1000,
        meter_last_wh=6500,
    )
    for minutes, watts in [(10, 7000), (1, 11000)]:
        MeterSample.objects.create(
            station=busy,
            session=session,
            evse_id=1,
            sampled_at=now - timedelta(minutes=minutes),
            measurand="Power.Active.Import",
            unit="W",
            value=Decimal(watts),
        )
    return {"mine": mine.user, "theirs": theirs.user, "site": site, "busy": busy}


def test_the_dashboard_is_in_the_index_and_shows_only_the_users_sites_with_their_figures(depots):
    client = client_of(depots["mine"])
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse(DASHBOARD) in index and reverse(UPTIME) in index
    page = client.get(reverse(DASHBOARD))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Depot North" in html and "Their Depot" not in html
    (row,) = page.context["rows"]
    assert (row.chargers, row.online, row.offline, row.charging, row.faulted) == (2, 1, 1, 1, 1)
    assert (row.power_w, row.sessions_today, row.energy_today_wh) == (11000, 1, 5500)
    assert 'role="img" aria-label="Energy per day, kWh"' in html
    assert len(page.context["energy_chart"].bars) == 14
    # The page reloads at the user's own sites' first midnight.
    until_midnight_s = (next_day_start([depots["site"]]) - timezone.now()).total_seconds()
    assert until_midnight_s - 5 < page.context["rollover_in_s"] <= until_midnight_s + 5
    assert len(client.get(reverse(DASHBOARD), {"days": 30}).context["utilization_chart"].bars) == 30


def test_the_figures_pushed_for_today_are_those_of_the_charts_last_bar(depots):
    page = client_of(depots["mine"]).get(reverse(DASHBOARD))
    energy_bar = page.context["energy_chart"].bars[-1]
    utilization_bar = page.context["utilization_chart"].bars[-1]
    today = site_message(depots["site"])["today"]
    assert today["day"] == energy_bar.day == utilization_bar.day
    assert (today["energy_wh"], energy_bar.value) == (5500, 5.5)
    # Two connectors, one busy for the last 30 minutes of the day so far.
    assert today["busy_s"] == pytest.approx(1800, abs=5)
    assert 100 * today["busy_s"] / today["capacity_s"] == pytest.approx(utilization_bar.value, rel=1e-3)
    html = page.content.decode()
    assert f'data-day="{today["day"]}" data-value="5.5"' in html and 'data-chart="utilization"' in html


def test_the_dashboard_rolls_over_at_the_first_of_its_sites_midnights():
    berlin = SiteFactory(time_zone="Europe/Berlin")  # UTC+1 in November
    new_york = SiteFactory(time_zone="America/New_York")  # UTC-5
    evening = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
    assert next_day_start([berlin, new_york], now=evening) == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    # Past Berlin's midnight, New York's comes first; at a midnight, the next one is a day later.
    after = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    assert next_day_start([berlin, new_york], now=after) == datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    assert next_day_start([berlin], now=after) == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert next_day_start([], now=evening) is None


def test_power_falls_back_to_the_currents_when_the_charger_reports_no_power(depots):
    MeterSample.objects.filter(measurand="Power.Active.Import").delete()
    session = ChargingSession.objects.get()
    at = timezone.now()
    for phase in ("L1", "L2", "L3"):
        MeterSample.objects.create(
            station=depots["busy"],
            session=session,
            evse_id=1,
            sampled_at=at,
            measurand="Current.Import",
            phase=phase,
            unit="A",
            value=Decimal(16),
        )
    (row,) = client_of(depots["mine"]).get(reverse(DASHBOARD)).context["rows"]
    assert row.power_w == 3 * 16 * 230


def test_a_session_the_charger_left_open_when_it_rebooted_draws_no_power(depots):
    client = client_of(depots["mine"])
    assert client.get(reverse(DASHBOARD)).context["rows"][0].power_w == 11000
    Station.objects.filter(pk=depots["busy"].pk).update(last_boot_at=timezone.now())
    (row,) = client.get(reverse(DASHBOARD)).context["rows"]
    assert (row.power_w, row.online, row.sessions_today) == (0, 1, 1)


def test_the_uptime_report_exports_the_users_connectors_as_csv(depots):
    busy = depots["busy"]
    start = datetime(2026, 11, 2, tzinfo=UTC)
    ConnectionPeriod.objects.create(
        station=busy, connected_at=start, disconnected_at=start + timedelta(hours=12)
    )
    StatusChange.objects.create(station=busy, connector=None, status="faulted", occurred_at=start)
    response = client_of(depots["mine"]).get(
        reverse(UPTIME), {"since": "2026-11-02", "until": "2026-11-02", "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [r[1] for r in rows[1:3]] == [busy.identity, busy.identity]
    assert rows[-1][0] == "Depot North" and "Their Depot" not in response.content.decode()
    # Faulted from 00:00, disconnected at 12:00: the whole day (in the server's zone) down.
    assert rows[1][4] == rows[1][3] and rows[1][7] == "0.000"
    html = client_of(depots["theirs"]).get(reverse(UPTIME)).content.decode()
    assert "Depot North" not in html and "How availability is counted" in html


def test_staff_without_an_organization_are_refused_the_pages():
    lone = StationFactory().site  # noqa: F841 (a site nobody of theirs runs)
    from tests.factories import UserFactory

    client = client_of(UserFactory(is_staff=True))
    assert client.get(reverse(DASHBOARD)).status_code == 403


def test_the_beat_job_waits_for_the_interval_plus_grace_then_closes_the_connection_period(
    settings, django_capture_on_commit_callbacks
):
    settings.CSMS_HEARTBEAT_GRACE_S = 60
    now = timezone.now()
    quiet = StationFactory(
        is_online=True, heartbeat_interval_s=300, last_seen_at=now - timedelta(seconds=359)
    )
    gone = StationFactory(is_online=True, heartbeat_interval_s=300, last_seen_at=now - timedelta(seconds=361))
    for station in (quiet, gone):
        ConnectionPeriod.objects.create(station=station, connected_at=now - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert station_mark_offline_overdue(now=now) == 1
    assert list(Station.objects.filter(is_online=True)) == [quiet]
    closed = ConnectionPeriod.objects.get(station=gone)
    # Down from its last message, not from when the job noticed the silence.
    assert (closed.disconnected_at, closed.reason) == (gone.last_seen_at, "heartbeat overdue")
    assert ConnectionPeriod.objects.get(station=quiet).disconnected_at is None


def test_reconciling_opens_a_period_for_a_charger_that_spoke_again_and_closes_one_a_dead_gateway_left():
    now = timezone.now()
    resumed = StationFactory(is_online=True, last_seen_at=now - timedelta(seconds=30))
    ConnectionPeriod.objects.create(
        station=resumed, connected_at=now - timedelta(hours=2), disconnected_at=now - timedelta(hours=1)
    )
    orphaned = StationFactory(is_online=False, last_seen_at=now - timedelta(minutes=20))
    ConnectionPeriod.objects.create(station=orphaned, connected_at=now - timedelta(hours=3))
    steady = StationFactory(is_online=True, last_seen_at=now)
    ConnectionPeriod.objects.create(station=steady, connected_at=now - timedelta(hours=3))

    assert connection_periods_reconcile(now=now) == (1, 1)
    assert (
        ConnectionPeriod.objects.get(station=resumed, disconnected_at=None).connected_at
        == resumed.last_seen_at
    )
    ended = ConnectionPeriod.objects.get(station=orphaned)
    assert ended.disconnected_at == orphaned.last_seen_at and ended.reason == "offline, no close seen"
    assert ConnectionPeriod.objects.filter(station=steady, disconnected_at=None).count() == 1
    assert connection_periods_reconcile(now=now) == (0, 0)  # nothing more to do
