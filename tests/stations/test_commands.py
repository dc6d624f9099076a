"""CSMS-initiated calls through the channel layer to the consumer holding the socket (in-process)."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from stations.domain import CallStatus
from stations.exceptions import CallRejected, CallTimeout, InvalidCall, StationNotFound, StationOffline
from stations.models import Frame, OutgoingCall
from stations.ocpp.commands import station_call_async
from tests.communicators import connected_charger
from tests.factories import StationFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def answer_next_call(charger: WebsocketCommunicator, reply: object) -> list:
    call = json.loads(await charger.receive_from(timeout=5))
    await charger.send_to(text_data=json.dumps(reply(call) if callable(reply) else reply))
    return call


@pytest.fixture
async def station():
    return await database_sync_to_async(StationFactory)()


async def test_a_call_returns_the_chargers_answer_and_is_recorded(station):
    charger = await connected_charger(station.identity)
    pending = asyncio.create_task(
        station_call_async(
            identity=station.identity, action="Reset", payload={"type": "Soft"}, requested_by="test"
        )
    )
    call = await answer_next_call(charger, lambda c: [3, c[1], {"status": "Accepted"}])
    assert call[2:] == ["Reset", {"type": "Soft"}]
    assert await pending == {"status": "Accepted"}
    record = await OutgoingCall.objects.aget(unique_id=call[1])
    assert (record.status, record.response, record.requested_by) == (
        CallStatus.ANSWERED,
        {"status": "Accepted"},
        "test",
    )
    assert await Frame.objects.filter(unique_id=call[1]).acount() == 2  # the call out, the answer in
    await charger.disconnect()


async def test_a_201_charger_gets_the_201_calls_and_refuses_16_ones_before_they_are_sent(station):
    charger = await connected_charger(station.identity, subprotocol="ocpp2.0.1")
    pending = asyncio.create_task(
        station_call_async(identity=station.identity, action="GetVariables", payload=GET_VARIABLES)
    )
    call = await answer_next_call(charger, lambda c: [3, c[1], GET_VARIABLES_RESULT])
    assert call[2:] == ["GetVariables", GET_VARIABLES]
    assert await pending == GET_VARIABLES_RESULT
    with pytest.raises(InvalidCall):
        await station_call_async(
            identity=station.identity, action="RemoteStartTransaction", payload={"idTag": "X"}
        )
    await charger.disconnect()


GET_VARIABLES = {
    "getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]
}
GET_VARIABLES_RESULT = {
    "getVariableResult": [
        {
            "attributeStatus": "Accepted",
            "attributeValue": "300",
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
        }
    ]
}


async def test_a_call_error_from_the_charger_is_raised_with_its_code(station):
    charger = await connected_charger(station.identity)
    pending = asyncio.create_task(station_call_async(identity=station.identity, action="ClearCache"))
    await answer_next_call(charger, lambda c: [4, c[1], "NotSupported", "no cache here", {}])
    with pytest.raises(CallRejected) as rejected:
        await pending
    assert rejected.value.code == "NotSupported"
    assert (await OutgoingCall.objects.aget()).status == CallStatus.REJECTED
    await charger.disconnect()


async def test_a_silent_charger_times_out(station):
    charger = await connected_charger(station.identity)
    with pytest.raises(CallTimeout):
        await station_call_async(identity=station.identity, action="ClearCache", timeout=0.3)
    assert (await OutgoingCall.objects.aget()).status == CallStatus.TIMEOUT
    await charger.disconnect()


async def test_calls_to_one_charger_are_sent_one_at_a_time(station):
    charger = await connected_charger(station.identity)
    first = asyncio.create_task(station_call_async(identity=station.identity, action="ClearCache"))
    second = asyncio.create_task(
        station_call_async(identity=station.identity, action="Reset", payload={"type": "Hard"})
    )
    call_a = json.loads(await charger.receive_from(timeout=5))
    assert await charger.receive_nothing(timeout=0.3), "a second CALL before the first is answered"
    await charger.send_to(text_data=json.dumps([3, call_a[1], {"status": "Accepted"}]))
    await answer_next_call(charger, lambda c: [3, c[1], {"status": "Accepted"}])
    assert await first == await second == {"status": "Accepted"}
    await charger.disconnect()


async def test_a_charger_that_disconnects_mid_call_is_reported_offline(station):
    charger = await connected_charger(station.identity)
    pending = asyncio.create_task(station_call_async(identity=station.identity, action="ClearCache"))
    await charger.receive_from(timeout=5)
    await charger.disconnect()
    with pytest.raises(StationOffline):
        await pending


async def test_an_offline_charger_fails_at_once_and_is_recorded(station):
    await database_sync_to_async(type(station).objects.filter(pk=station.pk).update)(
        protocol="ocpp1.6", is_online=False
    )
    with pytest.raises(StationOffline):
        await station_call_async(identity=station.identity, action="ClearCache")
    assert (await OutgoingCall.objects.aget()).status == CallStatus.OFFLINE


async def test_a_socket_nobody_holds_any_more_is_reported_offline(station, settings):
    settings.CSMS_CALL_ACK_TIMEOUT_S = 0.5
    await database_sync_to_async(type(station).objects.filter(pk=station.pk).update)(
        protocol="ocpp1.6", is_online=True, channel_name="specific.gone!nobody"
    )
    with pytest.raises(StationOffline):
        await station_call_async(identity=station.identity, action="ClearCache")


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("Reset", {"type": "Gentle"}, "type"),
        ("Reset", {}, "must contain"),
        ("BootNotification", {}, "not a ocpp1.6 CSMS action"),
        ("Teleport", {}, "not a ocpp1.6 CSMS action"),
    ],
)
async def test_an_invalid_call_is_refused_before_it_is_sent(station, action, payload, message):
    charger = await connected_charger(station.identity)
    with pytest.raises(InvalidCall, match=message):
        await station_call_async(identity=station.identity, action=action, payload=payload)
    assert await charger.receive_nothing(timeout=0.2)
    await charger.disconnect()


async def test_an_unknown_charger_is_named_in_the_error():
    with pytest.raises(StationNotFound, match="NOPE"):
        await station_call_async(identity="NOPE", action="ClearCache")
