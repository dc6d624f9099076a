"""A charging session over a live socket, with the retries and late messages real chargers send."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import IdTokenStatus
from stations.domain import ConnectorStatus, StopReason
from stations.models import ChargingSession, Connector, Frame, MeterSample, StatusChange
from tests.factories import STATION_PASSWORD, IdTokenFactory, StationFactory
from tests.ocpp_fixtures import load_payload

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

START = {"connectorId": 1, "idTag": "04E2A1B2C3D4E5", "meterStart": 1000, "timestamp": "2026-11-25T10:00:00Z"}


@pytest.fixture
def station():
    return StationFactory()


@pytest.fixture
def client(gateway, station):
    with gateway.client(station.identity, STATION_PASSWORD) as client:
        client.result("BootNotification", load_payload("v16", "boot_notification"))
        yield client


def test_a_whole_session_is_stored_as_the_charger_reports_it(client, station):
    IdTokenFactory(id_tag="04E2A1B2C3D4E5")
    status = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Preparing",
        "timestamp": "2026-11-25T09:59:50Z",
    }
    assert client.result("StatusNotification", status) == {}
    assert client.result("Authorize", {"idTag": "04E2A1B2C3D4E5"}) == {"idTagInfo": {"status": "Accepted"}}
    started = client.result("StartTransaction", START)
    assert started["idTagInfo"] == {"status": "Accepted"}
    tx = started["transactionId"]
    assert (
        client.result(
            "StatusNotification", {**status, "status": "Charging", "timestamp": "2026-11-25T10:00:01Z"}
        )
        == {}
    )
    assert client.result("MeterValues", load_payload("v16", "meter_values", tx=tx)) == {}
    assert client.result("StopTransaction", load_payload("v16", "stop_transaction", tx=tx)) == {
        "idTagInfo": {"status": "Accepted"}
    }

    station.refresh_from_db()
    assert (station.vendor, station.serial_number, station.firmware_version) == (
        "ABB",
        "TACW224317G0123",
        "1.6.6",
    )
    session = ChargingSession.objects.get(station=station)
    assert session.external_id == str(tx) and session.connector.evse_id == 1
    assert session.started_at == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert session.stopped_at == datetime(2026, 11, 25, 11, tzinfo=UTC)
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (1000, 12843, 11843)
    assert session.stop_reason == StopReason.EV_DISCONNECTED and session.id_token is not None
    samples = MeterSample.objects.filter(session=session)
    assert samples.count() == 8  # 7 periodic + 1 Transaction.End
    energy = samples.get(measurand="Energy.Active.Import.Register", context="Sample.Periodic")
    assert (energy.value, energy.unit) == (Decimal("1.843"), "kWh")
    assert set(samples.filter(measurand="Current.Import").values_list("phase", flat=True)) == {
        "L1",
        "L2",
        "L3",
    }
    connector = Connector.objects.get(station=station, evse_id=1)
    assert connector.status == ConnectorStatus.CHARGING
    assert StatusChange.objects.filter(station=station).count() == 2
    # 7 calls in and 7 results out, each persisted before the reply
    assert Frame.objects.filter(identity=station.identity, direction="in").count() == 7
    assert Frame.objects.filter(identity=station.identity, direction="out", message_type=3).count() == 7


def test_live_energy_follows_the_meter_values_of_an_open_session(client, station):
    tx = client.result("StartTransaction", START)["transactionId"]
    client.result("MeterValues", load_payload("v16", "meter_values", tx=tx))
    session = ChargingSession.objects.get(pk=tx)
    assert session.meter_last_wh == 1843 and session.live_energy_wh == 843


def test_a_repeated_start_gets_the_same_transaction_id_and_no_second_session(client, station):
    first = client.result("StartTransaction", START)
    again = client.result("StartTransaction", START)
    assert again == first
    assert ChargingSession.objects.filter(station=station).count() == 1


def test_repeated_meter_values_and_stops_add_nothing(client, station):
    tx = client.result("StartTransaction", START)["transactionId"]
    for _ in range(2):
        client.result("MeterValues", load_payload("v16", "meter_values", tx=tx))
        client.result("StopTransaction", load_payload("v16", "stop_transaction", tx=tx))
    assert MeterSample.objects.filter(station=station).count() == 8
    session = ChargingSession.objects.get(pk=tx)
    assert session.energy_wh == 11843 and ChargingSession.objects.filter(station=station).count() == 1


def test_a_stop_for_an_unknown_transaction_is_answered_and_recorded(client, station):
    stop = {
        "transactionId": 987654,
        "meterStop": 5000,
        "timestamp": "2026-11-25T12:00:00Z",
        "reason": "Local",
    }
    assert client.result("StopTransaction", stop) == {}
    assert client.result("StopTransaction", stop) == {}
    orphan = ChargingSession.objects.get(station=station)
    assert orphan.started_at is None and orphan.meter_stop_wh == 5000
    assert "987654" in orphan.anomaly


def test_messages_queued_offline_keep_their_own_timestamps(client, station):
    """A charger back online sends what it queued; a late status does not overwrite a newer one."""
    newer = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": "2026-11-25T10:30:00Z",
    }
    older = {**newer, "status": "Charging", "timestamp": "2026-11-25T10:10:00Z"}
    client.result("StatusNotification", newer)
    client.result("StatusNotification", older)
    connector = Connector.objects.get(station=station, evse_id=1)
    assert connector.status == ConnectorStatus.AVAILABLE
    assert connector.status_since == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert list(
        StatusChange.objects.filter(station=station).order_by("occurred_at").values_list("status", flat=True)
    ) == [ConnectorStatus.CHARGING, ConnectorStatus.AVAILABLE]


def test_token_answers_follow_the_token_state(client):
    IdTokenFactory(id_tag="BLOCKED-1", status=IdTokenStatus.BLOCKED)
    IdTokenFactory(id_tag="EXPIRED-1", expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    answers = {
        tag: client.result("Authorize", {"idTag": tag})["idTagInfo"]["status"]
        for tag in ("BLOCKED-1", "EXPIRED-1", "UNKNOWN-1")
    }
    assert answers == {"BLOCKED-1": "Blocked", "EXPIRED-1": "Expired", "UNKNOWN-1": "Invalid"}


def test_a_token_already_charging_elsewhere_gets_concurrent_tx(gateway, client, station):
    IdTokenFactory(id_tag="04E2A1B2C3D4E5")
    client.result("StartTransaction", START)
    second = client.result(
        "StartTransaction", {**START, "connectorId": 2, "timestamp": "2026-11-25T10:05:00Z"}
    )
    assert second["idTagInfo"]["status"] == "ConcurrentTx"


def test_whole_charger_status_and_notifications_are_recorded(client, station):
    client.result("StatusNotification", {"connectorId": 0, "errorCode": "GroundFailure", "status": "Faulted"})
    client.result("FirmwareStatusNotification", {"status": "Installing"})
    client.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
    assert client.result("DataTransfer", {"vendorId": "com.example", "messageId": "x", "data": "y"}) == {
        "status": "UnknownVendorId"
    }
    station.refresh_from_db()
    assert (station.status, station.error_code) == (ConnectorStatus.FAULTED, "GroundFailure")
    assert (station.firmware_status, station.diagnostics_status) == ("Installing", "Uploaded")
    assert Frame.objects.filter(identity=station.identity, action="DataTransfer", direction="in").exists()


def test_heartbeat_answers_the_time_and_refreshes_last_seen(client, station):
    before = station.last_seen_at
    answer = client.result("Heartbeat", {})
    assert datetime.fromisoformat(answer["currentTime"]).tzinfo is not None
    station.refresh_from_db()
    assert station.last_seen_at is not None and station.last_seen_at != before


def test_meter_values_without_a_transaction_id_belong_to_the_session_open_on_that_connector(client, station):
    def sample(minute: int, wh: int) -> dict:
        return {
            "connectorId": 1,
            "meterValue": [
                {"timestamp": f"2026-11-25T10:{minute:02d}:00Z", "sampledValue": [{"value": str(wh)}]}
            ],
        }

    client.result("MeterValues", sample(0, 900))  # before any session
    tx = client.result("StartTransaction", START)["transactionId"]
    client.result("MeterValues", sample(10, 1500))
    client.result(
        "StopTransaction", {"transactionId": tx, "meterStop": 2000, "timestamp": "2026-11-25T10:20:00Z"}
    )
    client.result("MeterValues", sample(30, 2000))  # after it
    by_minute = dict(
        MeterSample.objects.filter(station=station).values_list("sampled_at__minute", "session_id")
    )
    assert by_minute == {0: None, 10: tx, 30: None}
    assert ChargingSession.objects.get(pk=tx).meter_last_wh == 2000
