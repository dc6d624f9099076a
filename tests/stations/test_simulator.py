"""The charger simulator: against a live gateway, and its answers to CSMS calls against a fake CSMS."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from stations.models import ChargingSession, Connector, Frame, MeterSample, Station
from stations.simulator.charger import SimulatedCharger
from stations.simulator.drivers import Stats
from stations.simulator.fleet import fleet_run
from stations.simulator.link import Socket
from tests.factories import IdTokenFactory, StationFactory
from tests.simulator_live import (
    charger_online,
    eventually,
    short_fleet,
    station_send,
    use_redis,
    wait_until,
)

CLOSED = "<closed>"


# --- a fake CSMS on the other end of a fake socket ---------------------------------------------------
class FakeSocket:
    def __init__(self, csms: FakeCsms) -> None:
        self.csms = csms
        self.subprotocol = csms.subprotocol  # as negotiated in the handshake
        self.inbox: asyncio.Queue[str] = asyncio.Queue()

    async def send(self, message: str) -> None:
        frame = json.loads(message)
        self.csms.frames.append(frame)
        if frame[0] == 2:
            _, unique_id, action, payload = frame
            self.csms.calls.append((action, payload))
            reply = self.csms.reply(action, payload)
            if reply is not None:
                await self.inbox.put(json.dumps([3, unique_id, reply]))
        else:
            self.csms.answers[frame[1]].set_result(frame)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.inbox.put(CLOSED)

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        message = await self.inbox.get()
        if message == CLOSED:
            raise StopAsyncIteration
        return message


class FakeCsms:
    """Answers the charger's calls like a permissive CSMS and sends calls of its own."""

    def __init__(
        self,
        boot_statuses: tuple[str, ...] = ("Accepted",),
        interval_s: int = 300,
        subprotocol: str = "ocpp1.6",
    ) -> None:
        self.subprotocol = subprotocol
        self.boot_statuses = list(boot_statuses)
        self.interval_s = interval_s
        self.frames: list[list[Any]] = []  # everything the charger sent, in order
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, asyncio.Future[list[Any]]] = {}
        self.connections = 0
        self.refused_connections = 0
        self.socket: FakeSocket | None = None
        self._ids = itertools.count(1)
        self._transaction_ids = itertools.count(100)

    def reply(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        now = "2026-11-25T10:00:00.000Z"
        if action == "BootNotification":
            status = self.boot_statuses.pop(0) if len(self.boot_statuses) > 1 else self.boot_statuses[0]
            return {"status": status, "currentTime": now, "interval": self.interval_s}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": next(self._transaction_ids), "idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}} if "idTag" in payload else {}
        return {}

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[Socket]:
        if self.refused_connections:
            self.refused_connections -= 1
            raise ConnectionRefusedError("connection refused")
        self.connections += 1
        self.socket = FakeSocket(self)
        yield self.socket

    def opener(self) -> Any:
        return self._open()

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Send a CALL to the charger and return its answer frame."""
        assert self.socket is not None
        unique_id = f"csms-{next(self._ids)}"
        self.answers[unique_id] = asyncio.get_running_loop().create_future()
        await self.socket.inbox.put(json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(self.answers[unique_id], 5)

    def sent(self, action: str, **match: Any) -> list[dict[str, Any]]:
        return [p for a, p in self.calls if a == action and all(p.get(k) == v for k, v in match.items())]

    def position(self, predicate: Callable[[list[Any]], bool]) -> int:
        return next(i for i, frame in enumerate(self.frames) if predicate(frame))


@asynccontextmanager
async def on_fake_csms(
    csms: FakeCsms, identity: str, ocpp: str = "1.6", **options: Any
) -> AsyncIterator[SimulatedCharger]:
    """A strict simulated charger connected to `csms` (see charger_online); the block must end without a
    protocol error on the charger's side."""
    async with charger_online(identity, "ws://fake", ocpp, opener=csms.opener, **options) as charger:
        yield charger
    assert charger.stats.protocol_errors == []


@asynccontextmanager
async def running(csms: FakeCsms) -> AsyncIterator[SimulatedCharger]:
    async with on_fake_csms(csms, "SIM-001", tags=["LOCAL-TAG"]) as charger:
        await eventually(lambda: len(csms.sent("StatusNotification")) == 3)  # connector 0, 1 and 2
        yield charger


def result(frame: list[Any]) -> dict[str, Any]:
    assert frame[0] == 3, frame
    return frame[2]


# --- answers to CSMS calls ------------------------------------------------------------------------
async def test_a_remote_start_is_answered_first_then_starts_a_session_without_authorize():
    csms = FakeCsms()
    async with running(csms):
        answer = await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE-1"})
        assert result(answer) == {"status": "Accepted"}
        await eventually(lambda: csms.sent("StartTransaction"))
        assert csms.sent("StartTransaction")[0]["idTag"] == "REMOTE-1"
        assert csms.sent("StartTransaction")[0]["connectorId"] == 1
        assert not csms.sent("Authorize"), "AuthorizeRemoteTxRequests is false"
        answered_at = csms.position(lambda f: f[0] == 3 and f[1] == answer[1])
        preparing_at = csms.position(lambda f: f[0] == 2 and f[3].get("status") == "Preparing")
        assert answered_at < preparing_at
        await eventually(lambda: csms.sent("StatusNotification", connectorId=1, status="Charging"))

        busy = await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE-2"})
        assert result(busy) == {"status": "Rejected"}
        assert result(await csms.call("RemoteStopTransaction", {"transactionId": 999})) == {
            "status": "Rejected"
        }
        assert result(await csms.call("RemoteStopTransaction", {"transactionId": 100})) == {
            "status": "Accepted"
        }
        await eventually(lambda: csms.sent("StopTransaction"))
        stop = csms.sent("StopTransaction")[0]
        assert (stop["transactionId"], stop["reason"]) == (100, "Remote")
        assert [v["sampledValue"][0]["context"] for v in stop["transactionData"]] == [
            "Transaction.Begin",
            "Transaction.End",
        ]
        await eventually(lambda: csms.sent("StatusNotification", connectorId=1, status="Available")[1:])
        statuses = [p["status"] for p in csms.sent("StatusNotification", connectorId=1)]
        assert statuses == ["Available", "Preparing", "Charging", "Finishing", "Available"]


async def test_meter_values_rise_with_the_power_drawn():
    csms = FakeCsms()
    async with running(csms):
        await csms.call("RemoteStartTransaction", {"idTag": "REMOTE-1"})
        await eventually(lambda: len(csms.sent("MeterValues")) >= 3, timeout_s=6)
    registers = [
        int(s["value"])
        for p in csms.sent("MeterValues")
        for s in p["meterValue"][0]["sampledValue"]
        if s["measurand"] == "Energy.Active.Import.Register"
    ]
    assert registers == sorted(registers) and registers[-1] > registers[0]
    sample = csms.sent("MeterValues")[0]
    assert sample["transactionId"] == 100 and sample["connectorId"] == 1
    measurands = {s["measurand"] for s in sample["meterValue"][0]["sampledValue"]}
    assert measurands == {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Current.Import",
        "Voltage",
        "SoC",
    }


async def test_a_soft_reset_stops_the_transaction_then_reconnects_and_boots_again():
    csms = FakeCsms()
    async with running(csms):
        await csms.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "REMOTE-1"})
        await eventually(lambda: csms.sent("StatusNotification", connectorId=2, status="Charging"))
        assert result(await csms.call("Reset", {"type": "Soft"})) == {"status": "Accepted"}
        await eventually(lambda: csms.connections == 2 and len(csms.sent("BootNotification")) == 2)
        assert csms.sent("StopTransaction")[0]["reason"] == "SoftReset"
        await eventually(lambda: csms.sent("StatusNotification", connectorId=2)[-1]["status"] == "Available")


async def test_configuration_keys_are_read_and_changed_as_the_specification_says():
    csms = FakeCsms(interval_s=42)
    async with running(csms):
        read = result(await csms.call("GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]}))
        assert read == {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "42"}],
            "unknownKey": ["NoSuchKey"],
        }
        changes = {
            ("NoSuchKey", "1"): "NotSupported",
            ("HeartbeatInterval", "soon"): "Rejected",
            ("NumberOfConnectors", "4"): "Rejected",
            ("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus"): "Rejected",
            ("WebSocketPingInterval", "30"): "RebootRequired",
            ("MeterValueSampleInterval", "5"): "Accepted",
        }
        for (key, value), status in changes.items():
            answer = await csms.call("ChangeConfiguration", {"key": key, "value": value})
            assert result(answer) == {"status": status}, key
        everything = result(await csms.call("GetConfiguration", {}))
        values = {k["key"]: k["value"] for k in everything["configurationKey"]}
        assert values["MeterValueSampleInterval"] == "5" and values["NumberOfConnectors"] == "2"
        assert "unknownKey" not in everything


async def test_a_triggered_message_is_sent_after_the_answer():
    csms = FakeCsms()
    async with running(csms):
        before = len(csms.sent("StatusNotification", connectorId=2))
        answer = await csms.call(
            "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 2}
        )
        assert result(answer) == {"status": "Accepted"}
        await eventually(lambda: len(csms.sent("StatusNotification", connectorId=2)) == before + 1)
        answered_at = csms.position(lambda f: f[0] == 3 and f[1] == answer[1])
        assert csms.frames[answered_at + 1][2] == "StatusNotification"

        heartbeat = await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert result(heartbeat) == {"status": "Accepted"}
        await eventually(lambda: csms.sent("Heartbeat"))
        wrong = await csms.call("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 7})
        assert result(wrong) == {"status": "Rejected"}


async def test_the_other_commands_get_minimal_valid_answers():
    csms = FakeCsms()
    async with running(csms):
        assert result(await csms.call("ClearCache", {})) == {"status": "Accepted"}
        assert result(await csms.call("UnlockConnector", {"connectorId": 1})) == {"status": "Unlocked"}
        assert result(await csms.call("UnlockConnector", {"connectorId": 9})) == {"status": "NotSupported"}
        assert result(await csms.call("DataTransfer", {"vendorId": "Other"})) == {"status": "UnknownVendorId"}
        diagnostics = await csms.call("GetDiagnostics", {"location": "ftp://example.invalid/"})
        assert result(diagnostics) == {"fileName": "SIM-001-diagnostics.log"}
        firmware = {"location": "ftp://example.invalid/fw.bin", "retrieveDate": "2020-01-01T00:00:00Z"}
        assert result(await csms.call("UpdateFirmware", firmware)) == {}
        # Only HTTP transfers are simulated: FTP locations fail (tests/diagnostics, tests/firmware: HTTP).
        await eventually(
            lambda: csms.sent("DiagnosticsStatusNotification", status="UploadFailed"), timeout_s=4
        )
        await eventually(
            lambda: csms.sent("FirmwareStatusNotification", status="DownloadFailed"), timeout_s=4
        )
        assert result(await csms.call("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})) == {
            "status": "Accepted"
        }
        await eventually(lambda: csms.sent("StatusNotification", connectorId=2, status="Unavailable"))
        assert result(await csms.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "X"})) == {
            "status": "Rejected"
        }


async def test_a_change_to_inoperative_during_a_transaction_is_scheduled():
    csms = FakeCsms()
    async with running(csms):
        await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE-1"})
        await eventually(lambda: csms.sent("StatusNotification", connectorId=1, status="Charging"))
        answer = await csms.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
        assert result(answer) == {"status": "Scheduled"}
        await csms.call("RemoteStopTransaction", {"transactionId": 100})
        await eventually(lambda: csms.sent("StatusNotification", connectorId=1, status="Unavailable"))


async def test_unknown_unsupported_and_malformed_calls_get_call_errors():
    csms = FakeCsms()
    async with running(csms):
        unknown = await csms.call("MakeCoffee", {})
        assert unknown[:3] == [4, unknown[1], "NotImplemented"]
        reserve = {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "T", "reservationId": 1}
        unsupported = await csms.call("ReserveNow", reserve)
        assert unsupported[2] == "NotSupported"
        malformed = await csms.call("RemoteStartTransaction", {"connectorId": 1})
        assert malformed[0] == 4 and malformed[2] == "ProtocolError"


async def test_a_pending_charger_boots_again_after_the_interval_and_only_then_reports_status():
    csms = FakeCsms(boot_statuses=("Pending", "Accepted"), interval_s=1)
    started = time.monotonic()
    async with running(csms):
        assert len(csms.sent("BootNotification")) == 2
        assert time.monotonic() - started >= 0.9
        first_status = csms.position(lambda f: f[0] == 2 and f[2] == "StatusNotification")
        second_boot = [i for i, f in enumerate(csms.frames) if f[0] == 2 and f[2] == "BootNotification"][1]
        assert second_boot < first_status


async def test_a_charger_that_cannot_connect_retries_with_backoff():
    csms = FakeCsms()
    csms.refused_connections = 2
    started = time.monotonic()
    async with running(csms):
        assert csms.connections == 1
    assert time.monotonic() - started >= 0.5 + 1.0  # 2 ** n seconds, jittered down to half at most


async def test_a_dropped_connection_is_reopened_and_the_charger_boots_again():
    csms = FakeCsms()
    async with running(csms) as charger:
        assert csms.socket is not None
        await csms.socket.close()
        await eventually(lambda: csms.connections == 2 and charger.online.is_set(), timeout_s=5)
        assert len(csms.sent("BootNotification")) == 2


# --- against the live gateway ----------------------------------------------------------------------
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_simulated_charger_boots_charges_and_is_stored_by_the_live_gateway(gateways):
    gateway = gateways("simulator", CSMS_HEARTBEAT_INTERVAL_S="2")
    station = StationFactory(identity="SIM-001")
    IdTokenFactory(id_tag="DEMO-TAG-1")
    IdTokenFactory(id_tag="DEMO-TAG-2")
    stats = asyncio.run(fleet_run(short_fleet(gateway.url)))

    assert stats.protocol_errors == [] and stats.call_errors == 0
    assert stats.boots == 1 and stats.heartbeats >= 2
    station.refresh_from_db()
    assert (station.vendor, station.model, station.firmware_version) == ("CSMS-Sim", "Virtual AC 22", "1.0.0")
    assert station.serial_number.startswith("VAC22-")
    # the gateway handles the close after the simulator has returned
    assert wait_until(lambda: not Station.objects.get(pk=station.pk).is_online, 5)
    assert set(Connector.objects.filter(station=station).values_list("evse_id", flat=True)) == {1, 2}
    assert set(Connector.objects.filter(station=station).values_list("status", flat=True)) == {"available"}
    sessions = ChargingSession.objects.filter(station=station)
    assert sessions.exists() and not sessions.open().exists(), "Ctrl-C or the end of the run stops sessions"
    stopped = sessions.filter(energy_wh__gt=0)
    assert stopped.exists()
    for session in stopped:
        assert session.authorization_status == "accepted" and session.stop_reason
        energy = MeterSample.objects.filter(
            session=session, measurand="Energy.Active.Import.Register", context="Sample.Periodic"
        ).order_by("sampled_at")
        values = [sample.value for sample in energy]
        assert values == sorted(values)
        if len(values) > 1:
            assert values[-1] > values[0]
    assert MeterSample.objects.filter(session__in=stopped, measurand="Current.Import", phase="L1").exists()
    assert not Frame.objects.filter(identity="SIM-001", message_type=4).exists(), "no CallError either way"


@pytest.mark.live
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_remote_start_through_the_csms_is_accepted_and_charges(gateways, settings):
    url = use_redis(gateways, settings)
    StationFactory(identity="SIM-001")
    IdTokenFactory(id_tag="REMOTE-TAG")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], Stats]:
        async with charger_online("SIM-001", url) as charger:
            start = await station_send(
                "SIM-001", "RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE-TAG"}
            )
            await eventually(lambda: charger.connectors[1].status == "Charging")
            transaction_id = charger.connectors[1].transaction_id
            await asyncio.sleep(2.5)
            stop = await station_send("SIM-001", "RemoteStopTransaction", {"transactionId": transaction_id})
            await eventually(lambda: charger.connectors[1].status == "Available", timeout_s=8)
        return start, stop, charger.stats

    start, stop, stats = asyncio.run(scenario())
    assert start == {"status": "Accepted"} and stop == {"status": "Accepted"}
    assert stats.protocol_errors == []
    session = ChargingSession.objects.get(station__identity="SIM-001")
    assert (session.id_tag, session.stop_reason) == ("REMOTE-TAG", "remote")
    assert session.energy_wh and session.energy_wh > 0
    assert Station.objects.get(identity="SIM-001").vendor == "CSMS-Sim"
