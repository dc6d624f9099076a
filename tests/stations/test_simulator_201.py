"""The simulator speaking 2.0.1, alone and beside 1.6 chargers, against the live gateway."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

import pytest

from stations.models import ChargingSession, DeviceVariable, Frame, Station, StatusChange
from stations.simulator.drivers import Stats
from stations.simulator.fleet import fleet_run
from tests.factories import IdTokenFactory, StationFactory
from tests.simulator_live import (
    charger_online,
    eventually,
    eventually_in_db,
    short_fleet,
    station_send,
    use_redis,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_mixed_fleet_charges_and_both_versions_end_in_the_same_sessions(gateways):
    gateway = gateways("simulator", CSMS_HEARTBEAT_INTERVAL_S="2")
    old, new = StationFactory(identity="SIM-001"), StationFactory(identity="SIM-002")
    for tag in ("DEMO-TAG-1", "DEMO-TAG-2", "DEMO-TAG-3", "DEMO-TAG-4"):
        IdTokenFactory(id_tag=tag)
    options = short_fleet(
        gateway.url,
        chargers=2,
        versions=("1.6", "2.0.1"),
        id_tags=("DEMO-TAG-1", "DEMO-TAG-2", "DEMO-TAG-3", "DEMO-TAG-4"),
    )
    stats = asyncio.run(fleet_run(options))

    assert stats.protocol_errors == [] and stats.call_errors == 0
    assert {s.identity: s.protocol for s in Station.objects.all()} == {
        "SIM-001": "ocpp1.6",
        "SIM-002": "ocpp2.0.1",
    }
    for station in (old, new):
        sessions = ChargingSession.objects.filter(station=station)
        assert sessions.exists() and not sessions.open().exists()
        stopped = sessions.filter(energy_wh__gt=0)
        assert stopped.exists(), station.identity
        for session in stopped:
            assert session.authorization_status == "accepted" and session.stop_reason
            assert session.connector is not None and session.meter_start_wh is not None
    for station in (old, new):  # the admin shows a charging connector alike for both versions
        assert StatusChange.objects.filter(station=station, status="charging").exists(), station.identity
    for session in ChargingSession.objects.filter(station=new):
        uuid.UUID(session.external_id)  # the 2.0.1 charger's own transaction id, kept as sent
    assert not Frame.objects.filter(message_type=4).exists(), "no CallError either way"


@pytest.mark.redis
def test_a_201_charger_obeys_the_csms_request_messages_and_reports_its_device_model(gateways, settings):
    url = use_redis(gateways, settings)
    StationFactory(identity="SIM-201")
    IdTokenFactory(id_tag="REMOTE-TAG")

    async def scenario() -> tuple[list[dict[str, Any]], Stats]:
        async with charger_online("SIM-201", url, "2.0.1") as charger:
            send = functools.partial(station_send, "SIM-201")
            token = {"idToken": "REMOTE-TAG", "type": "Central"}
            start = {"idToken": token, "remoteStartId": 7, "evseId": 1}
            answers = [await send("RequestStartTransaction", start)]
            await eventually(lambda: charger.connectors[1].status == "Charging")
            await asyncio.sleep(2.5)
            answers.append(
                await send("RequestStopTransaction", {"transactionId": charger.connectors[1].transaction_id})
            )
            await eventually(lambda: charger.connectors[1].status == "Available", timeout_s=8)
            variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            answers.append(
                await send("SetVariables", {"setVariableData": [{**variable, "attributeValue": "120"}]})
            )
            sampling = {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}
            answers.append(
                await send("SetVariables", {"setVariableData": [{**sampling, "attributeValue": "2"}]})
            )
            assert charger.config.get("MeterValueSampleInterval") == "2"  # the 1.6 key it replaced
            answers.append(await send("GetBaseReport", {"requestId": 3, "reportBase": "FullInventory"}))
            reported = DeviceVariable.objects.filter(station__identity="SIM-201")
            assert await eventually_in_db(lambda: reported.count() > 20, 5), (
                "the NotifyReport follows the answer"
            )
        return answers, charger.stats

    (start, stop, set_variables, set_sampling, report), stats = asyncio.run(scenario())
    assert (
        start == {"status": "Accepted"}
        and stop == {"status": "Accepted"}
        and report == {"status": "Accepted"}
    )
    assert set_variables["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert set_sampling["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert stats.protocol_errors == []
    session = ChargingSession.objects.get(station__identity="SIM-201")
    assert (session.id_tag, session.stop_reason) == ("REMOTE-TAG", "remote")
    assert session.energy_wh and session.energy_wh > 0
    heartbeat = DeviceVariable.objects.get(station__identity="SIM-201", variable="HeartbeatInterval")
    assert (heartbeat.component, heartbeat.value, heartbeat.mutability) == (
        "OCPPCommCtrlr",
        "120",
        "ReadWrite",
    )
