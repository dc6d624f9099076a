"""The dashboard's WebSocket with a charger on an in-process socket: staff get their sites' figures (the
row and today's per-day figures) and then pushes as the charger connects, reports a status, meters and
drops; a manager of another organization gets nothing of this site, and a visitor without a staff
session is refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.db import aclose_old_connections, database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import User
from csms.asgi import application
from stations.monitoring.models import ConnectionPeriod
from stations.ocpp.base import format_timestamp
from tests.communicators import connected_charger
from tests.factories import IdTokenFactory, MembershipFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def consumer_connections_closed() -> AsyncIterator[None]:
    """Close the connection the dashboard's session and user lookups opened, as daphne would have.

    channels' WebsocketCommunicator turns database_sync_to_async's close_old_connections into a no-op
    while it waits on the application (channels/testing/application.py), so the connection stays open
    in the thread-sensitive executor; after a test whose last database work is a refused handshake,
    PostgreSQL then refuses to drop the test database ("being accessed by other users")."""
    yield
    await aclose_old_connections()  # in that executor's thread, with the real close_old_connections


def session_cookie(user: User | None) -> bytes:
    client = Client()
    if user is not None:
        client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode() if user is not None else b""


def dashboard(cookie: bytes, origin: bytes = b"http://testserver") -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/monitoring/ws/dashboard/", headers=[(b"cookie", cookie), (b"origin", origin)]
    )


@database_sync_to_async
def scene() -> dict[str, Any]:
    mine = MembershipFactory()
    theirs = MembershipFactory()
    site = SiteFactory(organization=mine.organization, name="Depot North")
    SiteFactory(organization=theirs.organization, name="Their Depot")
    station = StationFactory(site=site)
    return {
        "site": site,
        "station": station,
        "mine": session_cookie(mine.user),
        "theirs": session_cookie(theirs.user),
        "driver": session_cookie(User.objects.create_user("driver")),
    }


async def call(charger: WebsocketCommunicator, action: str, payload: dict[str, Any]) -> Any:
    await charger.send_to(text_data=json.dumps([2, action, action, payload]))
    return json.loads(await charger.receive_from(timeout=10))


async def site_push_until(
    socket: WebsocketCommunicator, condition: Any, timeout: float = 8.0
) -> dict[str, Any]:
    """Read pushes until one satisfies `condition`; fail on any message about another site."""
    async with asyncio.timeout(timeout):
        while True:
            message = await socket.receive_json_from(timeout=timeout)
            assert message["type"] == "site"
            if condition(message["site"]):
                return message["site"]


async def test_staff_see_their_sites_change_live_and_others_see_nothing_of_them():
    s = await scene()
    mine, theirs = dashboard(s["mine"]), dashboard(s["theirs"])
    assert (await mine.connect())[0] and (await theirs.connect())[0]
    snapshot = await mine.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    assert [(r["name"], r["chargers"], r["online"], r["offline"]) for r in snapshot["sites"]] == [
        ("Depot North", 1, 0, 1)
    ]
    assert snapshot["sites"][0]["today"]["energy_wh"] == 0  # today's bar of the per-day charts
    assert [r["name"] for r in (await theirs.receive_json_from(timeout=5))["sites"]] == ["Their Depot"]

    charger = await connected_charger(s["station"].identity)
    row = await site_push_until(mine, lambda r: r["online"] == 1)
    assert (row["site_id"], row["offline"]) == (s["site"].pk, 0)

    status = {"connectorId": 1, "status": "Charging", "errorCode": "NoError"}
    assert (await call(charger, "StatusNotification", status))[0] == 3
    row = await site_push_until(mine, lambda r: r["charging"] == 1)
    assert row["connectors"] == 1

    fault = {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"}
    await call(charger, "StatusNotification", fault)
    row = await site_push_until(mine, lambda r: r["faulted"] == 1)
    assert row["charging"] == 0

    await charger.disconnect()
    row = await site_push_until(mine, lambda r: r["online"] == 0)
    assert row["offline"] == 1
    assert await theirs.receive_nothing(timeout=1)  # nothing of Depot North, ever
    period = await ConnectionPeriod.objects.aget(station=s["station"])
    assert period.disconnected_at is not None and period.reason == "socket closed"
    await mine.disconnect()
    await theirs.disconnect()


async def test_without_a_staff_session_or_from_another_origin_the_socket_is_refused():
    s = await scene()
    anonymous = dashboard(b"")
    assert (await anonymous.connect())[0] is False
    assert (await dashboard(s["driver"]).connect())[0] is False
    assert (await dashboard(s["mine"], origin=b"http://evil.example").connect())[0] is False


async def drain(socket: WebsocketCommunicator, seconds: float) -> list[dict[str, Any]]:
    """Every site push that arrives within `seconds` (a timed-out receive would end the consumer)."""
    pushes: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if not await socket.receive_nothing(timeout=left, interval=0.02):
            pushes.append((await socket.receive_json_from())["site"])
    return pushes


async def test_meter_values_are_pushed_at_most_once_per_site_every_two_seconds_and_the_last_one_wins():
    s = await scene()
    await database_sync_to_async(IdTokenFactory)(id_tag="CARD-1", organization=s["site"].organization)
    mine = dashboard(s["mine"])
    await mine.connect()
    await mine.receive_json_from(timeout=5)  # the snapshot
    charger = await connected_charger(s["station"].identity)
    now = datetime.now(UTC).replace(microsecond=0)
    start = {"connectorId": 1, "idTag": "CARD-1", "meterStart": 0, "timestamp": format_timestamp(now)}
    transaction_id = (await call(charger, "StartTransaction", start))[2]["transactionId"]
    await drain(mine, 2.5)  # the connection's and the start's pushes

    for n in range(1, 11):
        power = {"value": str(1000 * n), "measurand": "Power.Active.Import", "unit": "W"}
        energy = {"value": str(100 * n), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        at = format_timestamp(now + timedelta(seconds=n))
        values = {
            "connectorId": 1,
            "transactionId": transaction_id,
            "meterValue": [{"timestamp": at, "sampledValue": [power, energy]}],
        }
        assert (await call(charger, "MeterValues", values))[0] == 3
    pushes = await drain(mine, 3.0)
    assert 1 <= len(pushes) <= 2, pushes  # ten messages, at most a leading and a trailing push
    assert pushes[-1]["power_w"] == 10_000 and pushes[-1]["sessions_today"] == 1
    assert (pushes[-1]["energy_today_wh"], pushes[-1]["today"]["energy_wh"]) == (1000, 1000)
    await charger.disconnect()
    assert [p["online"] for p in await drain(mine, 2.5)][-1:] == [0]  # the disconnection, before the end
    await mine.disconnect()
