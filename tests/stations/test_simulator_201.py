"""The simulator speaking 2.0.1, alone and beside 1.6 chargers, against the live gateway."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from stations.models import ChargingSession, DeviceVariable, Frame, Station, StatusChange
from stations.simulator.charger import ChargerOptions, SimulatedCharger
from stations.simulator.drivers import Stats, TagPool
from stations.simulator.fleet import FleetOptions, fleet_run
from tests.factories import STATION_PASSWORD, IdTokenFactory, StationFactory
from tests.stations.test_simulator import eventually

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_mixed_fleet_charges_and_both_versions_end_in_the_same_sessions(gateways):
    gateway = gateways("simulator", CSMS_HEARTBEAT_INTERVAL_S="2")
    old, new = StationFactory(identity="SIM-001"), StationFactory(identity="SIM-002")
    for tag in ("DEMO-TAG-1", "DEMO-TAG-2", "DEMO-TAG-3", "DEMO-TAG-4"):
        IdTokenFactory(id_tag=tag)
    options = FleetOptions(
        chargers=2,
        versions=("1.6", "2.0.1"),
        id_tags=("DEMO-TAG-1", "DEMO-TAG-2", "DEMO-TAG-3", "DEMO-TAG-4"),
        charger=ChargerOptions(
            url=gateway.url,
            password=STATION_PASSWORD,
            connectors=2,
            session_every_s=1.0,
            session_length_s=3.0,
            meter_interval_s=1,
            strict=True,
        ),
        duration_s=9.0,
        seed=1,
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
    from tests.conftest import redis_test_url

    url = redis_test_url()
    gateway = gateways("simulator-redis", REDIS_URL=url)
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    StationFactory(identity="SIM-201")
    IdTokenFactory(id_tag="REMOTE-TAG")

    async def scenario() -> tuple[list[dict[str, Any]], Stats]:
        from stations.ocpp.commands import station_call_async

        charger = SimulatedCharger(
            "SIM-201",
            ChargerOptions(
                url=gateway.url,
                password=STATION_PASSWORD,
                session_every_s=1000.0,
                meter_interval_s=1,
                strict=True,
                ocpp="2.0.1",
            ),
            tags=TagPool([]),
        )
        task = asyncio.create_task(charger.run())
        await asyncio.wait_for(charger.online.wait(), 10)

        async def send(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await station_call_async(identity="SIM-201", action=action, payload=payload, timeout=10)

        answers = [
            await send(
                "RequestStartTransaction",
                {"idToken": {"idToken": "REMOTE-TAG", "type": "Central"}, "remoteStartId": 7, "evseId": 1},
            )
        ]
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
        answers.append(await send("SetVariables", {"setVariableData": [{**sampling, "attributeValue": "2"}]}))
        assert charger.config.get("MeterValueSampleInterval") == "2"  # the 1.6 key it replaced
        answers.append(await send("GetBaseReport", {"requestId": 3, "reportBase": "FullInventory"}))
        for _ in range(100):  # the NotifyReport follows the answer
            if await DeviceVariable.objects.filter(station__identity="SIM-201").acount() > 20:
                break
            await asyncio.sleep(0.05)
        charger.halt()
        await task
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
