"""`manage.py chargers`: add, list, show, and send with its exit codes."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command

from stations.credentials import password_matches
from stations.domain import CallStatus, ConnectorStatus
from stations.models import Connector, OutgoingCall, Site, Station
from stations.services.sessions import session_start
from tests.cli import command_error, command_output
from tests.communicators import connected_charger
from tests.conftest import ROOT, child_env
from tests.factories import STATION_PASSWORD, SiteFactory, StationFactory

T0 = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


run = functools.partial(command_output, "chargers")
fails = functools.partial(command_error, "chargers")


# --- add -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_generates_a_password_prints_it_once_and_stores_only_its_hash():
    out = run("add", "CP-NEW", "--site", "Depot North")
    station = Station.objects.get(identity="CP-NEW")
    printed = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert printed["identity"] == "CP-NEW"
    assert printed["url"] == "/ocpp/CP-NEW"
    assert 16 <= len(printed["password"].encode()) <= 40
    assert password_matches(printed["password"].encode(), station.password_hash)
    assert printed["password"] not in station.password_hash
    assert station.site == Site.objects.get(name="Depot North")


@pytest.mark.django_db
def test_add_with_a_given_password_does_not_echo_it():
    out = run("add", "CP-OWN", "--password", STATION_PASSWORD)
    assert STATION_PASSWORD not in out
    assert "/ocpp/CP-OWN" in out
    station = Station.objects.get(identity="CP-OWN")
    assert password_matches(STATION_PASSWORD.encode(), station.password_hash)
    assert station.site is None


@pytest.mark.django_db
def test_add_joins_an_existing_site():
    site = SiteFactory(name="Garage")
    run("add", "CP-G", "--site", "Garage")
    assert Station.objects.get(identity="CP-G").site == site


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["CP-0001"], "already exists"),
        (["bad/identity"], "Letters, digits"),
        (["x" * 49], "at most 48"),
        (["CP-SHORT", "--password", "x" * 15], "16 to 40 bytes"),
        (["CP-LONG", "--password", "x" * 41], "16 to 40 bytes"),
        (["CP-EMPTY", "--password", ""], "16 to 40 bytes"),
    ],
)
def test_add_refuses_a_duplicate_a_bad_identity_or_a_bad_password(args, message):
    StationFactory(identity="CP-0001")
    error = fails("add", *args)
    assert message in str(error)
    assert error.returncode == 1
    assert Station.objects.count() == 1


@pytest.mark.django_db
def test_errors_reach_stderr_and_the_exit_status_of_the_real_command():
    result = subprocess.run(
        [sys.executable, "manage.py", "chargers", "send", "NOPE", "Reset"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "No charger 'NOPE'" in result.stderr
    assert result.stdout == ""


# --- list and show ---------------------------------------------------------------------------------


@pytest.fixture
def described_station(db):
    station = StationFactory(
        identity="CP-LIST",
        site=SiteFactory(name="Depot"),
        vendor="ABB",
        model="Terra AC",
        firmware_version="1.8.3",
        protocol="ocpp1.6",
        is_online=True,
        last_seen_at=T0,
    )
    Connector.objects.create(station=station, evse_id=1, status=ConnectorStatus.AVAILABLE)
    Connector.objects.create(station=station, evse_id=2, status=ConnectorStatus.CHARGING)
    return station


def test_list_as_json_describes_each_charger_and_its_connectors(described_station):
    StationFactory(identity="CP-BARE", site=None)
    rows = json.loads(run("list", "--json"))
    assert [row["identity"] for row in rows] == ["CP-BARE", "CP-LIST"]
    assert rows[1] == {
        "identity": "CP-LIST",
        "site": "Depot",
        "vendor": "ABB",
        "model": "Terra AC",
        "firmware": "1.8.3",
        "protocol": "ocpp1.6",
        "registration_status": "accepted",
        "online": True,
        "last_seen_at": "2026-03-01T08:30:00Z",
        "connectors": [
            {"evse_id": 1, "connector_id": 1, "status": "available"},
            {"evse_id": 2, "connector_id": 1, "status": "charging"},
        ],
    }
    assert rows[0]["site"] is None and rows[0]["online"] is False and rows[0]["connectors"] == []


def test_list_as_a_table_has_one_line_per_charger(described_station):
    StationFactory(identity="CP-BARE", site=None)
    header, *lines = run("list").splitlines()
    assert header.split()[:3] == ["IDENTITY", "SITE", "VENDOR"]
    assert [line.split()[0] for line in lines] == ["CP-BARE", "CP-LIST"]
    assert lines[1].split() == [
        "CP-LIST",
        "Depot",
        "ABB",
        "Terra",
        "AC",
        "1.8.3",
        "ocpp1.6",
        "accepted",
        "yes",
        "2026-03-01T08:30:00+00:00",
        "1:available",
        "2:charging",
    ]


def test_list_with_no_chargers_prints_only_the_header(db):
    [header] = run("list").splitlines()
    assert header.startswith("IDENTITY")
    assert json.loads(run("list", "--json")) == []


def test_show_as_json_has_open_sessions_and_the_last_ten_commands(described_station):
    session_start(
        station_id=described_station.pk,
        evse_id=2,
        connector_id=1,
        id_tag="TAG1",
        meter_start_wh=1200,
        started_at=T0,
    )
    for n in range(12):
        OutgoingCall.objects.create(
            station=described_station, unique_id=f"call-{n:02d}", action="ClearCache", requested_by="cli"
        )
    data = json.loads(run("show", "CP-LIST", "--json"))
    assert data["identity"] == "CP-LIST" and len(data["connectors"]) == 2
    [session] = data["open_sessions"]
    assert (session["connector"], session["id_tag"], session["started_at"]) == (
        2,
        "TAG1",
        "2026-03-01T08:30:00Z",
    )
    assert [call["unique_id"] for call in data["commands"]] == [f"call-{n:02d}" for n in range(11, 1, -1)]
    assert data["commands"][0]["status"] == "pending"


def test_show_as_text_lists_the_sections(described_station):
    OutgoingCall.objects.create(
        station=described_station,
        unique_id="c1",
        action="Reset",
        status="answered",
        response={"status": "Accepted"},
        requested_by="cli",
    )
    out = run("show", "CP-LIST")
    assert "identity:" in out and "CP-LIST" in out
    sections = out.split("\n\n")
    assert sections[1].splitlines()[0] == "Connectors" and len(sections[1].splitlines()) == 4
    assert sections[2].splitlines() == ["Open sessions", "(none)"]
    assert "Reset" in sections[3] and '{"status": "Accepted"}' in sections[3]


def test_show_an_unknown_charger_exits_with_2(db):
    error = fails("show", "NOPE")
    assert error.returncode == 2 and "NOPE" in str(error)


# --- send: refused before anything is sent ---------------------------------------------------------
# station_call runs its queries through database_sync_to_async, which closes the connection of a test
# transaction: these tests commit for real.


@pytest.mark.django_db(transaction=True)
def test_send_to_an_unknown_charger_exits_with_2():
    error = fails("send", "NOPE", "Reset", "--payload", '{"type": "Soft"}')
    assert error.returncode == 2 and "NOPE" in str(error)


@pytest.mark.django_db(transaction=True)
def test_send_to_a_charger_that_never_connected_exits_with_3_and_records_the_attempt():
    StationFactory(identity="CP-NEVER")
    error = fails("send", "CP-NEVER", "Reset", "--payload", '{"type": "Soft"}')
    assert error.returncode == 3 and "never connected" in str(error)
    call = OutgoingCall.objects.get()
    assert (call.status, call.requested_by) == (CallStatus.OFFLINE, "cli")


@pytest.mark.django_db(transaction=True)
def test_send_to_an_offline_charger_exits_with_3_and_records_the_attempt():
    station = StationFactory(protocol="ocpp1.6", is_online=False)
    error = fails("send", station.identity, "Reset", "--payload", '{"type": "Soft"}')
    assert error.returncode == 3 and "offline" in str(error)
    call = OutgoingCall.objects.get()
    assert (call.action, call.payload, call.status, call.requested_by) == (
        "Reset",
        {"type": "Soft"},
        CallStatus.OFFLINE,
        "cli",
    )


@pytest.mark.django_db(transaction=True)
def test_send_to_a_socket_nobody_holds_exits_with_3(settings):
    settings.CSMS_CALL_ACK_TIMEOUT_S = 0.5
    station = StationFactory(protocol="ocpp1.6", is_online=True, channel_name="specific.gone!nobody")
    error = fails("send", station.identity, "ClearCache")
    assert error.returncode == 3
    assert OutgoingCall.objects.get().status == CallStatus.OFFLINE


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Reset", "--payload", '{"type": "Gentle"}'], "type"),
        (["Reset"], "must contain"),
        (["Teleport"], "not a ocpp1.6 CSMS action"),
        (["Reset", "--payload", "{type: Soft}"], "not valid JSON"),
        (["Reset", "--payload", '["Soft"]'], "JSON object"),
    ],
)
def test_send_refuses_an_invalid_call_with_2_and_sends_nothing(args, message):
    station = StationFactory(protocol="ocpp1.6", is_online=True, channel_name="specific.unused")
    error = fails("send", station.identity, *args)
    assert error.returncode == 2 and message in str(error)
    assert not OutgoingCall.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_send_refuses_a_timeout_that_is_not_positive():
    StationFactory(identity="CP-T")
    assert "timeout" in str(fails("send", "CP-T", "ClearCache", "--timeout", "0"))


# --- send: to a charger on a socket, in this process ------------------------------------------------


def send_in_background(*args: str) -> tuple[asyncio.Task[None], io.StringIO]:
    out = io.StringIO()
    # Not in the thread-sensitive executor: channels runs close_old_connections there before every
    # consumer event, so the consumer could not acknowledge the call while the command holds it.
    command = database_sync_to_async(call_command, thread_sensitive=False)
    task = asyncio.create_task(command("chargers", "send", *args, stdout=out))
    return task, out


@pytest.fixture
async def station():
    return await database_sync_to_async(StationFactory)()


@pytest.mark.django_db(transaction=True)
async def test_send_prints_the_chargers_answer_as_json(station):
    charger = await connected_charger(station.identity)
    task, out = send_in_background(station.identity, "Reset", "--payload", '{"type": "Soft"}')
    call = json.loads(await charger.receive_from(timeout=10))
    assert call[0] == 2 and call[2:] == ["Reset", {"type": "Soft"}]
    await charger.send_to(text_data=json.dumps([3, call[1], {"status": "Accepted"}]))
    await asyncio.wait_for(task, 10)
    assert json.loads(out.getvalue()) == {"status": "Accepted"}
    record = await OutgoingCall.objects.aget(unique_id=call[1])
    assert (record.status, record.requested_by) == (CallStatus.ANSWERED, "cli")
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_send_exits_with_5_when_the_charger_answers_with_a_call_error(station):
    charger = await connected_charger(station.identity)
    task, out = send_in_background(station.identity, "ClearCache")
    call = json.loads(await charger.receive_from(timeout=10))
    await charger.send_to(text_data=json.dumps([4, call[1], "NotSupported", "no cache here", {}]))
    with pytest.raises(CommandError) as failure:
        await asyncio.wait_for(task, 10)
    assert failure.value.returncode == 5
    assert "NotSupported" in str(failure.value) and "no cache here" in str(failure.value)
    assert out.getvalue() == ""
    assert (await OutgoingCall.objects.aget()).status == CallStatus.REJECTED
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_send_exits_with_4_when_the_charger_stays_silent(station):
    charger = await connected_charger(station.identity)
    task, _ = send_in_background(station.identity, "ClearCache", "--timeout", "0.3")
    await charger.receive_from(timeout=10)
    with pytest.raises(CommandError) as failure:
        await asyncio.wait_for(task, 10)
    assert failure.value.returncode == 4 and "0.3 s" in str(failure.value)
    assert (await OutgoingCall.objects.aget()).status == CallStatus.TIMEOUT
    await charger.disconnect()


# --- send: to a charger on another gateway process -------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_send_cannot_reach_another_gateway_process_without_redis(gateway, settings):
    settings.REDIS_URL = ""  # the gateway runs without Redis too (tests.conftest.child_env)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CSMS_CALL_ACK_TIMEOUT_S = 0.5
    station = StationFactory()
    with gateway.client(
        station.identity, STATION_PASSWORD, handlers={"Reset": lambda p: {"status": "Accepted"}}
    ):
        error = fails("send", station.identity, "Reset", "--payload", '{"type": "Soft"}')
    assert error.returncode == 3 and "REDIS_URL is unset" in str(error)
