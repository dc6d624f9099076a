"""OCPP 2.0.1 over a live socket: negotiation, a whole TransactionEvent session with retries and
out-of-order events, bad input, and a site mixing 1.6 and 2.0.1 chargers."""

from __future__ import annotations

import json

import pytest

from accounts.models import IdTokenStatus
from stations.domain import ConnectorStatus, RegistrationStatus, StopReason
from stations.models import ChargingSession, Connector, MeterSample, StatusChange
from tests.cli import command_output
from tests.factories import STATION_PASSWORD, IdTokenFactory, StationFactory
from tests.ocpp_fixtures import load_payload

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

V201 = ("ocpp2.0.1",)
TX = "f3b2a7c0-5d1e-4c2b-9a61-0d4e6b1f2a33"  # 2.0.1 transaction ids are the charger's strings
TAG = "04A1B2C3D4E5F6"


@pytest.fixture
def station():
    return StationFactory()


@pytest.fixture
def client(gateway, station):
    with gateway.client(station.identity, STATION_PASSWORD, subprotocols=V201) as client:
        assert (
            client.result("BootNotification", load_payload("v201", "boot_notification"))["status"]
            == "Accepted"
        )
        yield client


def event(name: str, tx: str = TX, **changes) -> dict:
    payload = load_payload("v201", f"transaction_{name}", tx=tx, id_tag=TAG)
    payload.update(changes)
    return payload


@pytest.mark.parametrize("offered", [("ocpp2.0.1", "ocpp1.6"), ("ocpp1.6", "ocpp2.0.1")])
def test_the_newest_version_both_speak_is_chosen_and_stored(gateway, station, offered):
    with gateway.client(station.identity, STATION_PASSWORD, subprotocols=offered) as client:
        assert client.subprotocol == "ocpp2.0.1"
    station.refresh_from_db()
    assert station.protocol == "ocpp2.0.1"


def test_2_1_is_preferred_when_offered_and_runs_the_same_session(gateway, station):
    IdTokenFactory(id_tag=TAG)
    offered = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
    with gateway.client(station.identity, STATION_PASSWORD, subprotocols=offered) as client:
        assert client.subprotocol == "ocpp2.1"
        assert (
            client.result("BootNotification", load_payload("v201", "boot_notification"))["status"]
            == "Accepted"
        )
        assert client.result("TransactionEvent", event("started")) == {"idTokenInfo": {"status": "Accepted"}}
        client.result("TransactionEvent", event("updated"))
        ended = event("ended")
        ended["transactionInfo"]["stoppedReason"] = "ReqEnergyTransferRejected"  # new in 2.1
        assert client.result("TransactionEvent", ended) == {}
    station.refresh_from_db()
    assert station.protocol == "ocpp2.1"
    session = ChargingSession.objects.get()
    assert (session.external_id, session.energy_wh, session.stop_reason) == (TX, 5500, StopReason.OTHER)


def test_boot_records_what_the_station_says_about_itself(client, station):
    station.refresh_from_db()
    assert (
        station.vendor,
        station.model,
        station.serial_number,
        station.firmware_version,
        station.iccid,
    ) == (
        "Alpitronic",
        "Alpitronic HYC300",
        "ALP-2201-00417",
        "2.4.1-r7",
        "8949020000012345678",
    )
    assert station.status == ConnectorStatus.AVAILABLE  # the admin's "charger status", as for 1.6


def test_a_whole_transaction_ends_in_the_same_session_as_1_6(client, station):
    IdTokenFactory(id_tag=TAG)
    status = {
        "timestamp": "2026-11-25T09:59:50Z",
        "connectorStatus": "Occupied",
        "evseId": 1,
        "connectorId": 1,
    }
    assert client.result("StatusNotification", status) == {}
    assert client.result("Authorize", {"idToken": {"idToken": TAG, "type": "ISO14443"}}) == {
        "idTokenInfo": {"status": "Accepted"}
    }
    assert client.result("TransactionEvent", event("started")) == {"idTokenInfo": {"status": "Accepted"}}
    assert client.result("TransactionEvent", event("updated")) == {}
    assert client.result("TransactionEvent", event("ended")) == {}

    session = ChargingSession.objects.get()
    assert session.external_id == TX
    assert (session.id_tag, session.authorization_status) == (TAG, "accepted")
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (1000, 6500, 5500)
    assert session.stop_reason == StopReason.EV_DISCONNECTED
    assert session.connector == Connector.objects.get(station=station, evse_id=1, connector_id=1)
    history = StatusChange.objects.filter(connector=session.connector).order_by("occurred_at")
    assert [change.status for change in history] == [
        ConnectorStatus.OCCUPIED,  # StatusNotification
        ConnectorStatus.PREPARING,  # chargingState EVConnected
        ConnectorStatus.CHARGING,
        ConnectorStatus.FINISHING,  # Idle, once ended
    ]
    assert session.connector.status == ConnectorStatus.FINISHING
    power = MeterSample.objects.get(session=session, measurand="Power.Active.Import")
    assert power.value == 10980  # 10.98 with a multiplier of 10^3
    assert MeterSample.objects.filter(session=session).count() == 7  # 1 + 5 + 1


def test_retried_events_add_nothing(client):
    for name in ("started", "started", "updated", "updated", "ended", "ended"):
        client.result("TransactionEvent", event(name))
    session = ChargingSession.objects.get()
    assert session.energy_wh == 5500
    assert MeterSample.objects.filter(session=session).count() == 7
    history = StatusChange.objects.filter(connector=session.connector).order_by("occurred_at")
    assert [change.status for change in history] == ["preparing", "charging", "finishing"]  # each once


def test_events_delivered_out_of_order_still_make_one_complete_session(client):
    IdTokenFactory(id_tag=TAG)
    assert client.result("TransactionEvent", event("updated")) == {}  # queued offline, sent first
    assert client.result("TransactionEvent", event("started")) == {"idTokenInfo": {"status": "Accepted"}}
    client.result("TransactionEvent", event("ended"))
    session = ChargingSession.objects.get()
    assert session.started_at.isoformat() == "2026-11-25T10:00:00+00:00"
    assert (session.meter_start_wh, session.energy_wh, session.id_tag) == (1000, 5500, TAG)


def test_a_token_shown_after_plugging_in_authorizes_the_running_session(client):
    IdTokenFactory(id_tag=TAG, status=IdTokenStatus.BLOCKED)
    started = event("started", triggerReason="CablePluggedIn")
    del started["idToken"]
    assert client.result("TransactionEvent", started) == {}
    updated = event("updated", triggerReason="Authorized", idToken={"idToken": TAG, "type": "ISO14443"})
    assert client.result("TransactionEvent", updated) == {"idTokenInfo": {"status": "Blocked"}}
    session = ChargingSession.objects.get()
    assert (session.id_tag, session.authorization_status) == (TAG, "blocked")


def test_meter_values_outside_a_transaction_go_to_the_session_open_on_that_evse(client):
    client.result("TransactionEvent", event("started"))
    meter_value = event("updated")["meterValue"]
    assert client.result("MeterValues", {"evseId": 1, "meterValue": meter_value}) == {}
    session = ChargingSession.objects.get()
    assert MeterSample.objects.filter(session=session).count() == 6
    session.refresh_from_db()
    assert session.meter_last_wh == 1843


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('[2, "e1", "Heartbeat", {"extra": 1}]', "FormatViolation"),
        ('[2, "e2", "StatusNotification", {"evseId": 1}]', "OccurrenceConstraintViolation"),
        (
            '[2, "e3", "Authorize", {"idToken": {"idToken": 42, "type": "ISO14443"}}]',
            "TypeConstraintViolation",
        ),
        ('[2, "e4", "FlyToTheMoon", {}]', "NotImplemented"),
        ('[2, "e5", "RequestStartTransaction", {}]', "NotSupported"),
        ("[2, ", "RpcFrameworkError"),
    ],
)
def test_bad_input_gets_the_2_0_1_error_code_and_the_socket_stays_open(client, frame, code):
    assert client.send_raw(frame)[2] == code
    assert "currentTime" in client.result("Heartbeat", {})


def test_a_mixed_site_lists_sessions_of_both_versions_alike(gateway):
    old, new = StationFactory(identity="MIX-16"), StationFactory(identity="MIX-201")
    IdTokenFactory(id_tag=TAG)
    with gateway.client(old.identity, STATION_PASSWORD) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        start = {"connectorId": 1, "idTag": TAG, "meterStart": 1000, "timestamp": "2026-11-25T09:00:00Z"}
        tx = charger.result("StartTransaction", start)["transactionId"]
        stop = {"transactionId": tx, "meterStop": 6500, "timestamp": "2026-11-25T09:30:00Z"}
        charger.result("StopTransaction", stop)
    with gateway.client(new.identity, STATION_PASSWORD, subprotocols=V201) as charger:
        charger.result("BootNotification", load_payload("v201", "boot_notification"))
        for name in ("started", "ended"):
            charger.result("TransactionEvent", event(name))

    rows = {row["charger"]: row for row in json.loads(command_output("sessions", "list", "--json"))}
    assert rows["MIX-16"]["transaction_id"] == str(tx)
    assert rows["MIX-201"]["transaction_id"] == TX
    for row in rows.values():
        assert (row["connector"], row["id_tag"], row["meter_start"], row["meter_stop"], row["energy_wh"]) == (
            1,
            TAG,
            1000,
            6500,
            5500,
        )


def report_data(heartbeat_interval: str) -> list[dict]:
    return [
        {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
            "variableAttribute": [{"type": "Actual", "value": heartbeat_interval, "mutability": "ReadWrite"}],
            "variableCharacteristics": {"dataType": "integer", "unit": "s", "supportsMonitoring": False},
        },
        {
            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": "ConnectorType"},
            "variableAttribute": [{"value": "cType2", "mutability": "ReadOnly"}],
            "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
        },
    ]


def test_a_device_model_report_in_parts_is_stored_and_a_later_one_updates_it(client, station):
    now = "2026-11-25T10:00:00Z"
    first, second = report_data("300")
    part = {"requestId": 7, "generatedAt": now, "seqNo": 0, "tbc": True, "reportData": [first]}
    assert client.result("NotifyReport", part) == {}
    assert client.result("NotifyReport", {**part, "seqNo": 1, "tbc": False, "reportData": [second]}) == {}
    later = {
        "requestId": 8,
        "generatedAt": "2026-11-25T11:00:00Z",
        "seqNo": 0,
        "reportData": report_data("60"),
    }
    assert client.result("NotifyReport", later) == {}

    rows = {(v.component, v.evse_id, v.connector_id, v.variable): v for v in station.device_variables.all()}
    assert set(rows) == {("OCPPCommCtrlr", 0, 0, "HeartbeatInterval"), ("Connector", 1, 1, "ConnectorType")}
    heartbeat = rows[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval")]
    assert (heartbeat.value, heartbeat.mutability, heartbeat.data_type, heartbeat.unit) == (
        "60",
        "ReadWrite",
        "integer",
        "s",
    )
    assert rows[("Connector", 1, 1, "ConnectorType")].value == "cType2"


def test_a_pending_station_is_told_so_and_may_not_start_transactions(gateway):
    station = StationFactory(registration_status=RegistrationStatus.PENDING)
    with gateway.client(station.identity, STATION_PASSWORD, subprotocols=V201) as client:
        boot = client.result("BootNotification", load_payload("v201", "boot_notification"))
        assert (boot["status"], boot["interval"]) == ("Pending", 60)
        assert client.call("TransactionEvent", event("started"))[2] == "SecurityError"
        assert "currentTime" in client.result("Heartbeat", {})
    assert not ChargingSession.objects.exists()
