"""Uptime arithmetic: period edges, overlapping faults and offline periods, and the report's totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stations.domain import ConnectorStatus
from stations.models import Connector, StatusChange
from stations.monitoring.models import ConnectionPeriod
from stations.monitoring.services.intervals import intervals_complement, intervals_length, status_intervals
from stations.monitoring.services.uptime import DOWN_STATUSES, uptime_csv_rows, uptime_report
from tests.factories import StationFactory

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_status_reported_before_the_period_holds_at_its_start_and_is_clipped_at_both_ends():
    changes = [(h(-5), "faulted"), (h(2), "available"), (h(9), "unavailable")]
    down = status_intervals(changes, since=h(0), until=h(10), matching=DOWN_STATUSES)
    assert down == [(h(0), h(2)), (h(9), h(10))]


def test_a_report_exactly_at_the_start_counts_from_the_start_and_one_at_the_end_adds_nothing():
    changes = [(h(0), "faulted"), (h(1), "available"), (h(10), "faulted")]
    assert status_intervals(changes, since=h(0), until=h(10), matching=DOWN_STATUSES) == [(h(0), h(1))]


def test_overlapping_down_causes_count_once():
    offline = intervals_complement([(h(0), h(3)), (h(5), h(10))], h(0), h(10))  # 3..5 offline
    faulted = [(h(4), h(6)), (h(4.5), h(5.5))]
    assert offline == [(h(3), h(5))]
    assert intervals_length([*offline, *faulted]) == timedelta(hours=3)  # 3..6


def station_with_history():
    station = StationFactory()
    one = Connector.objects.create(station=station, evse_id=1)
    two = Connector.objects.create(station=station, evse_id=2)
    ConnectionPeriod.objects.create(station=station, connected_at=h(-1), disconnected_at=h(4), reason="x")
    ConnectionPeriod.objects.create(station=station, connected_at=h(6), disconnected_at=None)
    for connector, status, at in [
        (one, ConnectorStatus.AVAILABLE, h(-1)),
        (one, ConnectorStatus.FAULTED, h(3)),  # overlaps the offline 4..6
        (one, ConnectorStatus.AVAILABLE, h(5)),
        (two, ConnectorStatus.CHARGING, h(-1)),
        (None, ConnectorStatus.UNAVAILABLE, h(8)),  # the whole charger: both connectors
        (None, ConnectorStatus.AVAILABLE, h(9)),
    ]:
        StatusChange.objects.create(station=station, connector=connector, status=status, occurred_at=at)
    return station


@pytest.mark.django_db
def test_the_report_counts_offline_faulted_and_charger_wide_unavailability_per_connector_and_site():
    station = station_with_history()
    report = uptime_report(sites=[station.site], since=h(0), until=h(10))
    one, two = report.connectors
    # one: faulted 3..5, offline 4..6, charger unavailable 8..9 → down 3..6 and 8..9 = 4 h of 10
    assert (one.down, one.offline, one.faulted) == (
        timedelta(hours=4),
        timedelta(hours=2),
        timedelta(hours=3),
    )
    assert one.availability_percent == 60.0
    # two: offline 4..6 and charger unavailable 8..9 → 3 h down
    assert two.down == timedelta(hours=3) and two.availability_percent == 70.0
    (site,) = report.sites
    assert site.counted == timedelta(hours=20) and site.down == timedelta(hours=7)
    assert site.availability_percent == 65.0
    rows = uptime_csv_rows(report)
    assert rows[0][-1] == "availability_percent"
    assert rows[-1] == [station.site.name, "", "", "20.000", "7.000", "4.000", "4.000", "65.000"]


@pytest.mark.django_db
def test_time_before_the_first_record_is_not_counted_and_a_charger_never_seen_has_no_figure():
    station = StationFactory()
    Connector.objects.create(station=station, evse_id=1)
    ConnectionPeriod.objects.create(station=station, connected_at=h(5), disconnected_at=h(8))
    unseen = StationFactory(site=station.site)
    Connector.objects.create(station=unseen, evse_id=1)

    report = uptime_report(sites=[station.site], since=h(0), until=h(10))
    counted = {u.station: u for u in report.connectors}
    assert counted[station.identity].counted == timedelta(hours=5)  # from 5, its first connection
    assert counted[station.identity].down == timedelta(hours=2)  # 8..10 offline
    assert counted[unseen.identity].availability_percent is None


@pytest.mark.django_db
def test_the_period_ends_now_when_it_reaches_into_the_future():
    station = StationFactory()
    Connector.objects.create(station=station, evse_id=1)
    start = datetime.now(UTC) - timedelta(hours=2)
    ConnectionPeriod.objects.create(station=station, connected_at=start)
    (uptime,) = uptime_report(sites=[station.site], since=start, until=start + timedelta(days=1)).connectors
    assert timedelta(hours=2) <= uptime.counted < timedelta(hours=2, minutes=1)
    assert uptime.down == timedelta(0)
