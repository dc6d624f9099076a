"""`manage.py sessions list`: every session with its meter readings and energy, as text or JSON."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError

from stations.domain import MeterReading, MeterSampleData, StopReason
from stations.services.sessions import session_id_find, session_meter_record, session_start, session_stop
from tests.cli import command_output
from tests.factories import StationFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


run = functools.partial(command_output, "sessions")


@pytest.fixture
def sessions():
    """Return a finished session on CP-A, then one still charging on CP-B, both with meter readings."""
    a, b = StationFactory(identity="CP-A"), StationFactory(identity="CP-B")
    done = session_start(
        station_id=a.pk, evse_id=1, connector_id=1, id_tag="TAG-A", meter_start_wh=10_000, started_at=T0
    ).session
    session_stop(
        station_id=a.pk,
        external_id=done.external_id,
        meter_stop_wh=17_500,
        stopped_at=T0 + timedelta(hours=1),
        reason=StopReason.REMOTE,
    )
    live = session_start(
        station_id=b.pk,
        evse_id=2,
        connector_id=1,
        id_tag="TAG-B",
        meter_start_wh=500,
        started_at=T0 + timedelta(hours=2),
    ).session
    reading = MeterReading(
        [MeterSampleData(sampled_at=T0 + timedelta(hours=2, minutes=15), value=Decimal("2700"))]
    )
    session_meter_record(
        station_id=b.pk,
        evse_id=2,
        reading=reading,
        session_id=session_id_find(station_id=b.pk, external_id=live.external_id),
    )
    return done, live


def test_list_as_json_has_one_row_per_session_newest_first(sessions):
    done, live = sessions
    rows = json.loads(run("list", "--json"))
    assert rows == [
        {
            "transaction_id": live.external_id,
            "charger": "CP-B",
            "connector": 2,
            "id_tag": "TAG-B",
            "started_at": "2026-03-01T10:00:00Z",
            "stopped_at": None,
            "meter_start": 500,
            "meter_stop": None,
            "energy_wh": 2200,
            "stop_reason": "",
        },
        {
            "transaction_id": done.external_id,
            "charger": "CP-A",
            "connector": 1,
            "id_tag": "TAG-A",
            "started_at": "2026-03-01T08:00:00Z",
            "stopped_at": "2026-03-01T09:00:00Z",
            "meter_start": 10_000,
            "meter_stop": 17_500,
            "energy_wh": 7500,
            "stop_reason": "remote",
        },
    ]


def test_list_of_one_charger(sessions):
    done, _ = sessions
    rows = json.loads(run("list", "--json", "--charger", "CP-A"))
    assert [row["transaction_id"] for row in rows] == [done.external_id]


def test_list_as_a_table(sessions):
    done, live = sessions
    header, *lines = run("list").splitlines()
    assert header.split()[:3] == ["TRANSACTION", "CHARGER", "CONNECTOR"]
    assert lines[0].split() == [
        live.external_id,
        "CP-B",
        "2",
        "TAG-B",
        "2026-03-01T10:00:00+00:00",
        "-",
        "500",
        "-",
        "2200",
        "-",
    ]
    assert lines[1].split() == [
        done.external_id,
        "CP-A",
        "1",
        "TAG-A",
        "2026-03-01T08:00:00+00:00",
        "2026-03-01T09:00:00+00:00",
        "10000",
        "17500",
        "7500",
        "remote",
    ]


def test_a_stop_for_an_unknown_transaction_is_listed_without_a_start():
    station = StationFactory(identity="CP-ODD")
    session_stop(station_id=station.pk, external_id="999", meter_stop_wh=4000, stopped_at=T0)
    [row] = json.loads(run("list", "--json"))
    assert (row["transaction_id"], row["connector"], row["started_at"], row["meter_stop"]) == (
        None,
        None,
        None,
        4000,
    )
    assert run("list").splitlines()[1].split()[:3] == ["-", "CP-ODD", "-"]


def test_no_sessions(db):
    assert json.loads(run("list", "--json")) == []
    assert len(run("list").splitlines()) == 1


def test_an_unknown_charger_exits_with_2(db):
    with pytest.raises(CommandError) as failure:
        run("list", "--charger", "NOPE")
    assert failure.value.returncode == 2 and "NOPE" in str(failure.value)
