"""The admin through the test client, as a superuser: pages, the charger password, actions, commands."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stations import admin_commands
from stations.credentials import password_matches
from stations.domain import CallStatus, ConnectorStatus, RegistrationStatus
from stations.models import (
    ChargingSession,
    Connector,
    DeviceVariable,
    Frame,
    MeterSample,
    OutgoingCall,
    Station,
    StatusChange,
)
from stations.ocpp.v16 import Ocpp16
from stations.ocpp.v201 import Ocpp201
from tests.communicators import connected_charger
from tests.factories import STATION_PASSWORD, IdTokenFactory, SiteFactory, StationFactory, UserFactory

NEW_PASSWORD = "a-brand-new-key-0042"


def changelist(model: str, app: str = "stations") -> str:
    return reverse(f"admin:{app}_{model}_changelist")


def change(obj: Any) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def charger_data() -> dict[str, Any]:
    """A site with an online charger in a session, an offline one, and what the gateway would log."""
    now = timezone.now()
    site = SiteFactory(name="Lindenhof Residences")
    online = StationFactory(
        identity="LH-01",
        site=site,
        is_online=True,
        protocol="ocpp1.6",
        last_seen_at=now,
        vendor="ABB",
        model="Terra AC",
        firmware_version="1.8.3",
    )
    offline = StationFactory(
        identity="LH-02", site=site, protocol="ocpp1.6", last_seen_at=now - timedelta(hours=3)
    )
    busy = Connector.objects.create(
        station=online, evse_id=1, status=ConnectorStatus.CHARGING, status_since=now
    )
    Connector.objects.create(station=online, evse_id=2, status=ConnectorStatus.AVAILABLE, status_since=now)
    Connector.objects.create(station=online, evse_id=3, status=ConnectorStatus.AVAILABLE, status_since=now)
    token = IdTokenFactory(
        id_tag="04A2B3C4", label="Alice's card", owner=UserFactory(email="alice@example.com")
    )
    session = ChargingSession.objects.create(
        station=online,
        connector=busy,
        id_tag=token.id_tag,
        id_token=token,
        started_at=now - timedelta(hours=1),
        meter_start_wh=1000,
        meter_last_wh=8500,
    )
    session.external_id = str(session.pk)
    session.save(update_fields=["external_id"])
    closed = ChargingSession.objects.create(
        station=offline,
        external_id="77",
        id_tag="CAFE",
        started_at=now - timedelta(days=1),
        stopped_at=now - timedelta(hours=20),
        meter_start_wh=0,
        meter_stop_wh=12_000,
        energy_wh=12_000,
        stop_reason="ev_disconnected",
        anomaly="Meter went backwards by 5 Wh",
    )
    MeterSample.objects.bulk_create(
        MeterSample(
            station=online,
            session=session,
            evse_id=1,
            sampled_at=now - timedelta(minutes=60 - m),
            measurand=measurand,
            unit=unit,
            value=Decimal(value),
        )
        for m in range(0, 60, 5)
        for measurand, unit, value in (
            ("Energy.Active.Import.Register", "Wh", 1000 + m * 125),
            ("Power.Active.Import", "W", 7200 - m),
        )
    )
    frame = Frame.objects.create(
        identity="LH-01",
        direction="in",
        message_type=2,
        unique_id="hb-1",
        action="Heartbeat",
        text='[2, "hb-1", "Heartbeat", {}]',
        created_at=now,
    )
    call = OutgoingCall.objects.create(
        station=online,
        unique_id="4f2b-call",
        action="GetConfiguration",
        payload={"key": ["HeartbeatInterval"]},
        status=CallStatus.ANSWERED,
        requested_by="admin:root",
        response={"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
    )
    status_change = StatusChange.objects.create(
        station=online,
        connector=busy,
        status=ConnectorStatus.FAULTED,
        error_code="GroundFailure",
        occurred_at=now,
    )
    return {
        "site": site,
        "online": online,
        "offline": offline,
        "session": session,
        "closed": closed,
        "frame": frame,
        "call": call,
        "status_change": status_change,
        "token": token,
    }


# --- pages -----------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "app", "expected"),
    [
        ("site", "stations", ["Lindenhof Residences", "1 / 2"]),
        (
            "station",
            "stations",
            ["LH-01", "LH-02", "1 Charging", "2 Available", "online", "offline", "ABB Terra AC"],
        ),
        ("chargingsession", "stations", ["04A2B3C4", "7.50 kWh", "live", "12.00 kWh", "anomaly"]),
        ("frame", "stations", ["Heartbeat", "hb-1", "LH-01"]),
        ("outgoingcall", "stations", ["GetConfiguration", "admin:root", "Answered"]),
        ("statuschange", "stations", ["LH-01 #1", "Faulted", "GroundFailure"]),
        ("idtoken", "accounts", ["04A2B3C4", "Alice&#x27;s card"]),
        ("user", "accounts", ["alice@example.com"]),
    ],
)
def test_each_changelist_renders_its_rows(admin_client, charger_data, model, app, expected):
    response = admin_client.get(changelist(model, app))
    assert response.status_code == 200
    for text in expected:
        assert text in response.content.decode(), text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("site", ["LH-01", "LH-02", "1 Charging"]),
        (
            "online",
            [
                "Terra AC",
                "Charging",
                "Recent sessions",
                "GetConfiguration",
                "New password",
                "OCPP frames of LH-01",
            ],
        ),
        ("session", ["Energy.Active.Import.Register", "<svg", "7.50 kWh", "so far"]),
        ("closed", ["Meter went backwards", "EV disconnected"]),
        ("frame", ["Heartbeat", "hb-1"]),
        ("call", ["HeartbeatInterval", "&quot;readonly&quot;: false"]),
        ("status_change", ["GroundFailure"]),
        ("token", ["04A2B3C4"]),
    ],
)
def test_each_change_page_renders(admin_client, charger_data, key, expected):
    response = admin_client.get(change(charger_data[key]))
    assert response.status_code == 200
    for text in expected:
        assert text in response.content.decode(), text


@pytest.mark.django_db
def test_a_session_left_open_by_a_reboot_is_told_apart_on_the_charger_page(admin_client, charger_data):
    online = charger_data["online"]
    assert ">open</span>" in admin_client.get(change(online)).content.decode()
    Station.objects.filter(pk=online.pk).update(last_boot_at=timezone.now())
    page = admin_client.get(change(online)).content.decode()
    assert ">left open by a reboot</span>" in page and ">open</span>" not in page


@pytest.mark.django_db
def test_the_add_pages_render(admin_client):
    for model, app in (("station", "stations"), ("site", "stations"), ("idtoken", "accounts")):
        assert admin_client.get(reverse(f"admin:{app}_{model}_add")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["frame", "outgoingcall", "statuschange", "chargingsession"])
def test_message_logs_are_read_only(admin_client, charger_data, model):
    assert admin_client.get(reverse(f"admin:stations_{model}_add")).status_code == 403
    obj = {
        "frame": charger_data["frame"],
        "outgoingcall": charger_data["call"],
        "statuschange": charger_data["status_change"],
        "chargingsession": charger_data["session"],
    }[model]
    response = admin_client.post(change(obj), {})
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_journal_never_counts_the_whole_table(admin_client, charger_data):
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(changelist("frame")).status_code == 200
    counts = [
        q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and "frame" in q["sql"]
    ]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts


@pytest.mark.django_db
def test_frame_filters_narrow_the_journal(admin_client, charger_data):
    Frame.objects.create(
        identity="LH-02",
        direction="out",
        message_type=3,
        unique_id="x-9",
        action="BootNotification",
        text='[3, "x-9", {}]',
        created_at=timezone.now(),
    )
    content = admin_client.get(
        changelist("frame") + "?direction=out&message_type=3&since=1h"
    ).content.decode()
    assert "x-9" in content and "hb-1" not in content


# --- the charger password ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_adding_a_charger_stores_only_a_hash_of_its_password(admin_client, charger_data):
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        {
            "identity": "NEW-01",
            "site": charger_data["site"].pk,
            "registration_status": "accepted",
            "new_password": NEW_PASSWORD,
            "heartbeat_interval_s": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    station = Station.objects.get(identity="NEW-01")
    assert NEW_PASSWORD not in station.password_hash
    assert password_matches(NEW_PASSWORD.encode(), station.password_hash)


@pytest.mark.django_db
def test_a_charger_cannot_be_added_without_a_password(admin_client):
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        {
            "identity": "NEW-02",
            "registration_status": "accepted",
            "new_password": "",
        },
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not Station.objects.filter(identity="NEW-02").exists()


def station_change_form(station: Station, password: str) -> dict[str, Any]:
    return {
        "site": station.site_id or "",
        "registration_status": station.registration_status,
        "new_password": password,
        "heartbeat_interval_s": "",
        "connectors-TOTAL_FORMS": "0",
        "connectors-INITIAL_FORMS": "0",
    }


@pytest.mark.django_db
def test_a_new_password_replaces_the_hash_and_an_empty_one_keeps_it(admin_client, charger_data):
    station = charger_data["offline"]
    before = station.password_hash
    assert admin_client.post(change(station), station_change_form(station, "")).status_code == 302
    station.refresh_from_db()
    assert station.password_hash == before
    assert admin_client.post(change(station), station_change_form(station, NEW_PASSWORD)).status_code == 302
    station.refresh_from_db()
    assert station.password_hash != before and NEW_PASSWORD not in station.password_hash
    assert password_matches(NEW_PASSWORD.encode(), station.password_hash)
    assert not password_matches(STATION_PASSWORD.encode(), station.password_hash)


@pytest.mark.django_db
def test_saving_a_charger_writes_only_the_edited_fields(admin_client, charger_data):
    """The gateway updates the row meanwhile: a save must not write back the connection state it read."""
    station = charger_data["online"]
    data = station_change_form(station, "") | {"heartbeat_interval_s": "120"}
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.post(change(station), data).status_code == 302
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "stations_station"')]
    assert len(updates) == 1 and "heartbeat_interval_s" in updates[0]
    assert "is_online" not in updates[0] and "last_seen_at" not in updates[0]
    station.refresh_from_db()
    assert station.heartbeat_interval_s == 120


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["too-short", "x" * 41])
def test_a_password_outside_16_to_40_characters_is_refused(admin_client, charger_data, password):
    station = charger_data["offline"]
    before = station.password_hash
    response = admin_client.post(change(station), station_change_form(station, password))
    assert response.status_code == 200 and "16 to 40 bytes" in response.content.decode()
    station.refresh_from_db()
    assert station.password_hash == before


# --- registration ----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("accept_registration", RegistrationStatus.ACCEPTED),
        ("reject_registration", RegistrationStatus.REJECTED),
    ],
)
def test_the_registration_actions_set_the_status(admin_client, action, status):
    pending = StationFactory(registration_status=RegistrationStatus.PENDING)
    response = admin_client.post(
        changelist("station"), {"action": action, "_selected_action": [pending.pk]}, follow=True
    )
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.registration_status == status
    assert any("1 charger(s) now" in m for m in messages_of(response))


# --- commands: forms and payloads ------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("name", list(admin_commands.COMMANDS))
def test_each_command_asks_its_questions_first(admin_client, charger_data, name):
    stations = [charger_data["online"].pk, charger_data["offline"].pk]
    response = admin_client.post(
        changelist("station"), {"action": f"command_{name}", "_selected_action": stations}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert admin_commands.COMMANDS[name].label in content and "LH-01" in content and "LH-02" in content
    assert 'name="apply"' in content
    assert not OutgoingCall.objects.exclude(pk=charger_data["call"].pk).exists()


@pytest.mark.django_db
def test_remote_stop_offers_the_open_sessions_of_the_selected_chargers(admin_client, charger_data):
    response = admin_client.post(
        changelist("station"),
        {
            "action": "command_remote_stop",
            "_selected_action": [charger_data["online"].pk],
        },
    )
    content = response.content.decode()
    assert f"transaction {charger_data['session'].external_id}" in content
    assert "transaction 77" not in content  # closed


def payloads(name: str, station: Station, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]] | None:
    """Validate the data through the command's form, then build this charger's calls."""
    command = admin_commands.COMMANDS[name]
    form = command.form_class(
        {f"command-{k}": v for k, v in data.items()} | {"command-timeout_s": "30"},
        stations=[station],
        prefix="command",
    )
    assert form.is_valid(), form.errors
    return command.payloads(station, form.cleaned_data)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("reset", {"kind": "hard"}, [("Reset", {"type": "Hard"})]),
        ("reset", {"kind": "soft"}, [("Reset", {"type": "Soft"})]),
        ("unlock", {"connector": "2"}, [("UnlockConnector", {"connectorId": 2})]),
        ("remote_start", {"id_tag": "04A2B3C4"}, [("RemoteStartTransaction", {"idTag": "04A2B3C4"})]),
        (
            "remote_start",
            {"id_tag": "04A2B3C4", "connector": "1"},
            [("RemoteStartTransaction", {"idTag": "04A2B3C4", "connectorId": 1})],
        ),
        (
            "availability",
            {"connector": "0", "operative": "0"},
            [("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})],
        ),
        (
            "set_configuration",
            {"key": "HeartbeatInterval", "value": "120"},
            [("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"})],
        ),
        ("get_configuration", {"keys": ""}, [("GetConfiguration", {})]),
        (
            "get_configuration",
            {"keys": "HeartbeatInterval, MeterValueSampleInterval\nNumberOfConnectors"},
            [
                (
                    "GetConfiguration",
                    {"key": ["HeartbeatInterval", "MeterValueSampleInterval", "NumberOfConnectors"]},
                )
            ],
        ),
        (
            "trigger",
            {"message": "StatusNotification", "connector": "1"},
            [("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1})],
        ),
        ("trigger", {"message": "Heartbeat"}, [("TriggerMessage", {"requestedMessage": "Heartbeat"})]),
        ("clear_cache", {}, [("ClearCache", {})]),
    ],
)
def test_the_16_payloads_follow_the_answers_and_pass_the_schema(name, data, expected):
    station = StationFactory(protocol="ocpp1.6")
    built = payloads(name, station, data)
    assert built == expected
    for action, payload in built:
        Ocpp16.encode_call("schema-check", action, payload)  # raises FrameError when the schema refuses it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("reset", {"kind": "hard"}, [("Reset", {"type": "Immediate"})]),
        ("reset", {"kind": "soft"}, [("Reset", {"type": "OnIdle"})]),
        ("unlock", {"connector": "2"}, [("UnlockConnector", {"evseId": 2, "connectorId": 1})]),
        (
            "availability",
            {"connector": "0", "operative": "0"},
            [("ChangeAvailability", {"operationalStatus": "Inoperative"})],
        ),
        (
            "availability",
            {"connector": "2", "operative": "1"},
            [("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 2}})],
        ),
        (
            "trigger",
            {"message": "DiagnosticsStatusNotification"},
            [("TriggerMessage", {"requestedMessage": "LogStatusNotification"})],
        ),
        (
            "trigger",
            {"message": "MeterValues", "connector": "1"},
            [("TriggerMessage", {"requestedMessage": "MeterValues", "evse": {"id": 1}})],
        ),
        ("clear_cache", {}, [("ClearCache", {})]),
        (
            "set_configuration",
            {"key": "MeterValueSampleInterval", "value": "30"},
            [
                (
                    "SetVariables",
                    {
                        "setVariableData": [
                            {
                                "attributeValue": "30",
                                "component": {"name": "SampledDataCtrlr"},
                                "variable": {"name": "TxUpdatedInterval"},
                            }
                        ]
                    },
                )
            ],
        ),
        (
            "get_configuration",
            {"keys": "HeartbeatInterval, TxCtrlr.EVConnectionTimeOut"},
            [
                (
                    "GetVariables",
                    {
                        "getVariableData": [
                            {
                                "component": {"name": "OCPPCommCtrlr"},
                                "variable": {"name": "HeartbeatInterval"},
                            },
                            {"component": {"name": "TxCtrlr"}, "variable": {"name": "EVConnectionTimeOut"}},
                        ]
                    },
                )
            ],
        ),
    ],
)
def test_the_201_payloads_keep_the_command_names_and_pass_the_schema(name, data, expected):
    station = StationFactory(protocol="ocpp2.0.1")
    built = payloads(name, station, data)
    assert built == expected
    for action, payload in built:
        Ocpp201.encode_call("schema-check", action, payload)


@pytest.mark.django_db
def test_reading_the_device_model_asks_for_a_full_inventory_and_the_admin_lists_it(admin_client):
    station = StationFactory(protocol="ocpp2.0.1")
    [(action, payload)] = payloads("device_model", station, {})
    assert action == "GetBaseReport" and payload["reportBase"] == "FullInventory"
    Ocpp201.encode_call("schema-check", action, payload)
    other = StationFactory()
    for owner, value in ((station, "271828"), (other, "314159")):
        DeviceVariable.objects.create(
            station=owner,
            component="OCPPCommCtrlr",
            variable="HeartbeatInterval",
            value=value,
            reported_at=timezone.now(),
        )
    page = admin_client.get(
        reverse("admin:stations_devicevariable_changelist"), {"station__id__exact": station.pk}
    )
    assert page.status_code == 200
    assert (
        b"HeartbeatInterval" in page.content and b"271828" in page.content and b"314159" not in page.content
    )
    assert (
        reverse("admin:stations_devicevariable_changelist").encode()
        in admin_client.get(reverse("admin:stations_station_change", args=[station.pk])).content
    )


@pytest.mark.django_db
def test_a_201_remote_start_and_stop_use_the_request_messages(charger_data):
    station = StationFactory(protocol="ocpp2.0.1")
    [(action, payload)] = payloads("remote_start", station, {"id_tag": "04A2B3C4", "connector": "1"})
    assert action == "RequestStartTransaction"
    assert payload["idToken"] == {"idToken": "04A2B3C4", "type": "Central"} and payload["evseId"] == 1
    Ocpp201.encode_call("schema-check", action, payload)
    session = ChargingSession.objects.create(
        station=station, external_id="tx-7f3a", started_at=timezone.now(), id_tag="04A2B3C4"
    )
    command = admin_commands.COMMANDS["remote_stop"]
    form = command.form_class(
        {"command-sessions": [session.pk], "command-timeout_s": "30"}, stations=[station], prefix="command"
    )
    assert form.is_valid(), form.errors
    assert command.payloads(station, form.cleaned_data) == [
        ("RequestStopTransaction", {"transactionId": "tx-7f3a"})
    ]


@pytest.mark.django_db
def test_remote_stop_sends_each_selected_session_to_its_own_charger(charger_data):
    online, offline, session = charger_data["online"], charger_data["offline"], charger_data["session"]
    command = admin_commands.COMMANDS["remote_stop"]
    form = command.form_class(
        {"command-sessions": [session.pk], "command-timeout_s": "30"},
        stations=[online, offline],
        prefix="command",
    )
    assert form.is_valid(), form.errors
    assert command.payloads(online, form.cleaned_data) == [
        ("RemoteStopTransaction", {"transactionId": int(session.external_id)})
    ]
    assert command.payloads(offline, form.cleaned_data) == []


@pytest.mark.django_db
def test_a_command_without_a_builder_for_the_chargers_version_is_reported_not_sent():
    station = StationFactory(protocol="ocpp1.6")
    command = admin_commands.COMMANDS["device_model"]  # 1.6 has no device model
    outcomes = admin_commands.command_run(
        command=command, stations=[station], data={"timeout_s": 5}, requested_by="test"
    )
    assert [o.level for o in outcomes] == ["error"] and "not available in ocpp1.6" in outcomes[0].text
    assert not OutgoingCall.objects.exists()


def applied(command: str, station: Station, **fields: str) -> dict[str, Any]:
    """The changelist POST that applies the admin action `command_<command>` to `station` with these
    fields of its form."""
    form = {f"command-{name}": value for name, value in fields.items()}
    return {"action": f"command_{command}", "_selected_action": [station.pk], "apply": "1"} | form


@pytest.mark.django_db
def test_an_invalid_form_is_shown_again_and_nothing_is_sent(admin_client, charger_data):
    response = admin_client.post(
        changelist("station"), applied("unlock", charger_data["offline"], connector="0", timeout_s="30")
    )
    assert response.status_code == 200 and "greater than or equal to 1" in response.content.decode()
    assert OutgoingCall.objects.count() == 1  # the fixture's


# --- commands: sending -----------------------------------------------------------------------------
# station_call runs its queries through database_sync_to_async, which closes the connection around
# them: inside a test's transaction that would end it, so these tests commit.
@pytest.mark.django_db(transaction=True)
def test_a_command_to_an_offline_charger_is_recorded_as_offline_and_reported(admin_client, charger_data):
    offline = charger_data["offline"]
    response = admin_client.post(
        changelist("station"), applied("reset", offline, kind="soft", timeout_s="10"), follow=True
    )
    assert response.status_code == 200
    call = OutgoingCall.objects.get(station=offline)
    assert (call.action, call.payload, call.status) == ("Reset", {"type": "Soft"}, CallStatus.OFFLINE)
    assert call.requested_by == "admin:admin"
    [message] = messages_of(response)
    assert "Reset to LH-02 failed" in message and "offline" in message
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


def post_in_background(client: Any, data: dict[str, Any]) -> asyncio.Task[Any]:
    # Outside the thread-sensitive executor, which the consumer may need while the request waits.
    post = database_sync_to_async(client.post, thread_sensitive=False)
    return asyncio.create_task(post(changelist("station"), data, follow=True))


@pytest.mark.django_db(transaction=True)
async def test_a_command_to_a_connected_charger_shows_its_answer(admin_client):
    station = await database_sync_to_async(StationFactory)(identity="LIVE-01")
    charger = await connected_charger(station.identity)
    request = post_in_background(admin_client, applied("reset", station, kind="hard", timeout_s="10"))
    call = json.loads(await charger.receive_from(timeout=10))
    assert call[0] == 2 and call[2:] == ["Reset", {"type": "Hard"}]
    await charger.send_to(text_data=json.dumps([3, call[1], {"status": "Accepted"}]))
    response = await asyncio.wait_for(request, 15)
    assert response.status_code == 200
    [message] = messages_of(response)
    assert message == 'Reset to LIVE-01: answered {"status": "Accepted"}'
    record = await OutgoingCall.objects.aget(unique_id=call[1])
    assert (record.status, record.response, record.requested_by) == (
        CallStatus.ANSWERED,
        {"status": "Accepted"},
        "admin:admin",
    )
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_get_configuration_lists_the_returned_keys(admin_client):
    station = await database_sync_to_async(StationFactory)(identity="LIVE-02")
    charger = await connected_charger(station.identity)
    keys = applied("get_configuration", station, keys="HeartbeatInterval, Nope", timeout_s="10")
    request = post_in_background(admin_client, keys)
    call = json.loads(await charger.receive_from(timeout=10))
    assert call[2:] == ["GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}]
    await charger.send_to(
        text_data=json.dumps(
            [
                3,
                call[1],
                {
                    "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
                    "unknownKey": ["Nope"],
                },
            ]
        )
    )
    response = await asyncio.wait_for(request, 15)
    content = response.content.decode()
    assert "LIVE-02: 1 key" in content and "HeartbeatInterval" in content and "300" in content
    assert "Unknown to the charger" in content and "Nope" in content
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_read_configuration_of_a_201_charger_lists_its_variables(admin_client):
    station = await database_sync_to_async(StationFactory)(identity="LIVE-201")
    charger = await connected_charger(station.identity, subprotocol="ocpp2.0.1")
    keys = applied("get_configuration", station, keys="HeartbeatInterval, Nope", timeout_s="10")
    request = post_in_background(admin_client, keys)
    call = json.loads(await charger.receive_from(timeout=10))
    assert call[2] == "GetVariables"
    heartbeat, nope = call[3]["getVariableData"]
    results = [
        {**heartbeat, "attributeStatus": "Accepted", "attributeValue": "271"},
        {**nope, "attributeStatus": "UnknownVariable"},
    ]
    await charger.send_to(text_data=json.dumps([3, call[1], {"getVariableResult": results}]))
    response = await asyncio.wait_for(request, 15)
    content = response.content.decode()
    assert "LIVE-201: 2 variables" in content and "OCPPCommCtrlr.HeartbeatInterval" in content
    assert "271" in content and "UnknownVariable" in content
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_call_error_is_shown_as_an_error(admin_client):
    station = await database_sync_to_async(StationFactory)(identity="LIVE-03")
    charger = await connected_charger(station.identity)
    request = post_in_background(admin_client, applied("clear_cache", station, timeout_s="10"))
    call = json.loads(await charger.receive_from(timeout=10))
    await charger.send_to(text_data=json.dumps([4, call[1], "NotSupported", "no cache here", {}]))
    response = await asyncio.wait_for(request, 15)
    [message] = response.context["messages"]
    assert message.level_tag == "error" and "NotSupported: no cache here" in str(message)
    assert (await OutgoingCall.objects.aget(unique_id=call[1])).status == CallStatus.REJECTED
    await charger.disconnect()
