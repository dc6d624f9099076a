"""Access rules as chargers meet them: the answers of both versions, and sessions stopped at their limit."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from stations.domain import AccessPolicy
from stations.models import ChargingSession, OutgoingCall
from stations.ocpp.base import format_timestamp
from stations.services.limits import sessions_stop_over_limit
from tests.communicators import connected_charger
from tests.factories import AccessGroupFactory, AccessRuleFactory, IdTokenFactory, SiteFactory, StationFactory
from tests.ocpp_fixtures import load_payload

pytestmark = pytest.mark.django_db(transaction=True)

unique_ids = (f"m{n}" for n in itertools.count())


async def result(charger: WebsocketCommunicator, action: str, payload: dict) -> dict:
    unique_id = next(unique_ids)
    await charger.send_to(text_data=json.dumps([2, unique_id, action, payload]))
    reply = json.loads(await charger.receive_from(timeout=10))
    assert reply[:2] == [3, unique_id], reply
    return reply[2]


async def answer_next_call(charger: WebsocketCommunicator, status: str) -> list:
    call = json.loads(await charger.receive_from(timeout=10))
    await charger.send_to(text_data=json.dumps([3, call[1], {"status": status}]))
    return call


@database_sync_to_async
def restricted_station(**rule_fields):
    """A charger at a restricted Berlin site whose one rule lets the 'Residents' group charge."""
    site = SiteFactory(access_policy=AccessPolicy.RESTRICTED, time_zone="Europe/Berlin")
    residents = AccessGroupFactory(name="Residents")
    card = IdTokenFactory(id_tag="RESIDENT01", parent_id_tag="BUILDING-A")
    residents.id_tokens.add(card)
    AccessRuleFactory(site=site, group=residents, **rule_fields)
    return StationFactory(site=site)


def start_16(started_at: datetime, id_tag: str = "RESIDENT01") -> dict:
    return {"connectorId": 1, "idTag": id_tag, "meterStart": 1000, "timestamp": format_timestamp(started_at)}


def start_201(started_at: datetime, id_tag: str = "RESIDENT01") -> dict:
    payload = load_payload("v201", "transaction_started", tx="tx-201", id_tag=id_tag)
    payload["timestamp"] = format_timestamp(started_at)
    return payload


async def test_a_16_charger_hears_invalid_where_20_hears_why(settings):
    station = await restricted_station(weekdays="")  # a rule that never opens
    card_16 = await connected_charger(station.identity)
    assert await result(card_16, "Authorize", {"idTag": "RESIDENT01"}) == {
        "idTagInfo": {"status": "Invalid", "parentIdTag": "BUILDING-A"}
    }
    assert await result(card_16, "Authorize", {"idTag": "UNKNOWN"}) == {"idTagInfo": {"status": "Invalid"}}
    await card_16.disconnect()

    charger_201 = await connected_charger(station.identity, subprotocol="ocpp2.0.1")
    answer = await result(
        charger_201, "Authorize", {"idToken": {"idToken": "RESIDENT01", "type": "ISO14443"}}
    )
    assert answer == {
        "idTokenInfo": {
            "status": "NotAtThisTime",
            "groupIdToken": {"idToken": "BUILDING-A", "type": "Central"},
        }
    }
    await database_sync_to_async(IdTokenFactory)(id_tag="STRANGER")
    answer = await result(charger_201, "Authorize", {"idToken": {"idToken": "STRANGER", "type": "ISO14443"}})
    assert answer == {"idTokenInfo": {"status": "NotAtThisLocation"}}
    await charger_201.disconnect()


@pytest.mark.parametrize(
    ("subprotocol", "start", "action", "transaction_id"),
    [
        ("ocpp1.6", start_16, "RemoteStopTransaction", None),
        ("ocpp2.0.1", start_201, "RequestStopTransaction", "tx-201"),
    ],
)
async def test_a_session_past_its_maximum_duration_is_stopped_remotely_once(
    subprotocol, start, action, transaction_id
):
    station = await restricted_station(max_duration_min=30)
    charger = await connected_charger(station.identity, subprotocol=subprotocol)
    started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=31)
    started = await result(
        charger, "StartTransaction" if subprotocol == "ocpp1.6" else "TransactionEvent", start(started_at)
    )
    accepted = started.get("idTagInfo") or started["idTokenInfo"]
    assert accepted["status"] == "Accepted"
    session = await ChargingSession.objects.aget(station=station)
    assert session.allowed_until == started_at + timedelta(minutes=30)
    assert session.limit.startswith("Residents: at most 30 min, until ")

    stopping = asyncio.create_task(database_sync_to_async(sessions_stop_over_limit)())
    call = await answer_next_call(charger, "Accepted")
    assert await stopping == 1
    assert call[2:] == [action, {"transactionId": transaction_id or int(session.external_id)}]
    session = await ChargingSession.objects.aget(pk=session.pk)
    assert session.limit_stop_requested_at is not None
    assert session.limit_stop_outcome.startswith("Stopped remotely when the limit was reached (Residents:")

    # Asked once: the next run, a minute later, leaves the charger time to send its stop.
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert await database_sync_to_async(sessions_stop_over_limit)(now=later) == 0
    await charger.disconnect()


async def test_a_session_within_its_limit_or_already_ended_is_left_alone():
    station = await restricted_station(max_duration_min=30)
    charger = await connected_charger(station.identity)
    now = datetime.now(UTC).replace(microsecond=0)
    started = await result(charger, "StartTransaction", start_16(now - timedelta(minutes=29)))
    assert await database_sync_to_async(sessions_stop_over_limit)(now=now) == 0

    stop = {"transactionId": started["transactionId"], "meterStop": 2000, "timestamp": format_timestamp(now)}
    await result(charger, "StopTransaction", stop)
    assert await database_sync_to_async(sessions_stop_over_limit)(now=now + timedelta(minutes=5)) == 0
    assert not await OutgoingCall.objects.filter(station=station).aexists()
    await charger.disconnect()


async def test_an_offline_charger_is_asked_again_after_the_retry_interval():
    station = await restricted_station(max_duration_min=30)
    charger = await connected_charger(station.identity)
    now = datetime.now(UTC).replace(microsecond=0)
    await result(charger, "StartTransaction", start_16(now - timedelta(minutes=45)))
    await charger.disconnect()
    await asyncio.sleep(0.2)  # the consumer marks the charger offline

    assert await database_sync_to_async(sessions_stop_over_limit)() == 0
    session = await ChargingSession.objects.aget(station=station)
    assert session.limit_stop_outcome == "Not stopped yet: the charger is offline. Asked again in 5 minutes."
    first_request = session.limit_stop_requested_at

    charger = await connected_charger(station.identity)
    retry_at = first_request + timedelta(minutes=5)
    stopping = asyncio.create_task(database_sync_to_async(sessions_stop_over_limit)(now=retry_at))
    call = await answer_next_call(charger, "Accepted")
    assert call[2] == "RemoteStopTransaction"
    assert await stopping == 1
    await charger.disconnect()


async def test_a_start_outside_the_rules_is_refused_in_each_versions_words_and_recorded():
    station = await restricted_station(weekdays="")  # a rule that never opens
    started_at = datetime.now(UTC).replace(microsecond=0)
    charger_16 = await connected_charger(station.identity)
    started = await result(charger_16, "StartTransaction", start_16(started_at))
    assert started["idTagInfo"] == {"status": "Invalid", "parentIdTag": "BUILDING-A"}
    await charger_16.disconnect()

    charger_201 = await connected_charger(station.identity, subprotocol="ocpp2.0.1")
    started = await result(charger_201, "TransactionEvent", start_201(started_at + timedelta(seconds=5)))
    assert started["idTokenInfo"]["status"] == "NotAtThisTime"
    await charger_201.disconnect()

    statuses = [
        s
        async for s in ChargingSession.objects.filter(station=station).values_list(
            "authorization_status", "allowed_until"
        )
    ]
    assert statuses == [("not_now", None), ("not_now", None)]
