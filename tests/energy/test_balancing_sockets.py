"""Load balancing through the gateway: chargers on in-process sockets start sessions, and the debounced
recompute (run in the gateway's event loop, as without Redis) sends them their limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from energy.models import Allocation, AllocationStatus, ChargerWiring, SiteGrid
from energy.services import triggers
from stations.ocpp.base import format_timestamp
from stations.ocpp.beside import tasks_running
from tests.communicators import connected_charger
from tests.factories import IdTokenFactory, SiteFactory, StationFactory
from tests.ocpp_fixtures import load_payload

pytestmark = pytest.mark.django_db(transaction=True)

sequence = itertools.count()


@pytest.fixture(autouse=True)
async def recomputes_finish():
    """Let the recomputes a test set off finish in its event loop, and stop the periodic one."""
    yield
    deadline = time.monotonic() + 20
    running = tasks_running
    while time.monotonic() < deadline and any(
        not task.done() and task.get_coro().__name__ != "every_period" for task in running
    ):
        await asyncio.sleep(0.1)
    for task in list(running):
        task.cancel()
    triggers.REBALANCE.loops.clear()


class Charger:
    """A charger on an in-process socket that answers the CSMS's charging-profile calls: Accepted (or
    `refuse` for session limits), and GetCompositeSchedule with the last session limit it took."""

    def __init__(self, socket: WebsocketCommunicator, version: str) -> None:
        self.socket, self.version = socket, version
        self.calls: list[tuple[int, str, dict[str, Any]]] = []  # (global order, action, payload)
        self.replies: dict[str, asyncio.Future[Any]] = {}
        self.refuse_session_limits = False
        self.limit: float | None = None
        self.reader = asyncio.create_task(self.read())
        self.ids = (f"{version}-{n}" for n in itertools.count())

    async def read(self) -> None:
        while True:
            frame = json.loads(await self.socket.receive_from(timeout=60))
            if frame[0] == 3:
                self.replies.pop(frame[1]).set_result(frame[2])
                continue
            _, unique_id, action, payload = frame
            self.calls.append((next(sequence), action, payload))
            await self.socket.send_to(text_data=json.dumps([3, unique_id, self.answer(action, payload)]))

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "SetChargingProfile":
            profile = payload.get("csChargingProfiles") or payload["chargingProfile"]
            if profile["chargingProfilePurpose"] != "TxProfile":
                return {"status": "Accepted"}
            if self.refuse_session_limits:
                return {"status": "Rejected"}
            schedule = profile["chargingSchedule"]
            schedule = schedule[0] if isinstance(schedule, list) else schedule
            self.limit = schedule["chargingSchedulePeriod"][0]["limit"]
            return {"status": "Accepted"}
        if action == "GetCompositeSchedule":
            schedule = {
                "chargingRateUnit": "A",
                "duration": 60,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": self.limit or 0}],
            }
            if self.version == "ocpp1.6":
                return {
                    "status": "Accepted",
                    "connectorId": payload["connectorId"],
                    "chargingSchedule": schedule,
                }
            return {"status": "Accepted", "schedule": {"evseId": payload["evseId"], **schedule}}
        return {"status": "Accepted"}

    async def send(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        unique_id = next(self.ids)
        self.replies[unique_id] = asyncio.get_running_loop().create_future()
        await self.socket.send_to(text_data=json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(self.replies[unique_id], 10)

    def received(self, purpose: str) -> Iterator[tuple[int, dict[str, Any], float]]:
        """(order, payload, limit of the first period) of every SetChargingProfile of the purpose received."""
        for order, action, payload in self.calls:
            profile = payload.get("csChargingProfiles") or payload.get("chargingProfile") or {}
            if action == "SetChargingProfile" and profile.get("chargingProfilePurpose") == purpose:
                schedule = profile["chargingSchedule"]
                schedule = schedule[0] if isinstance(schedule, list) else schedule
                yield order, payload, schedule["chargingSchedulePeriod"][0]["limit"]

    def session_limits(self) -> list[tuple[int, float]]:
        """(order, limit) of every TxProfile received."""
        return [(order, limit) for order, _, limit in self.received("TxProfile")]

    def defaults(self) -> list[tuple[int, float]]:
        """(connector or EVSE, limit) of every TxDefaultProfile received."""
        return [
            (payload.get("connectorId", payload.get("evseId")), limit)
            for _, payload, limit in self.received("TxDefaultProfile")
        ]

    async def close(self) -> None:
        self.reader.cancel()
        await self.socket.disconnect()


async def until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


@database_sync_to_async
def balanced_site(limit: str, chargers: int):
    site = SiteFactory()
    SiteGrid.objects.create(site=site, phase_limit_amps=Decimal(limit))
    stations = [StationFactory(site=site) for _ in range(chargers)]
    for number, station in enumerate(stations, 1):
        ChargerWiring.objects.create(station=station, phases=3, max_amps=Decimal("32"))
        IdTokenFactory(id_tag=f"CAR{number}")
    return site, stations


async def plugged(identity: str, version: str) -> Charger:
    charger = Charger(await connected_charger(identity, subprotocol=version), version)
    now = format_timestamp(datetime.now(UTC))
    if version == "ocpp1.6":
        await charger.send("BootNotification", load_payload("v16", "boot_notification"))
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": now}
    else:
        await charger.send("BootNotification", load_payload("v201", "boot_notification"))
        status = {"timestamp": now, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    await charger.send("StatusNotification", status)
    return charger


async def start(charger: Charger, card: str) -> None:
    if charger.version == "ocpp1.6":
        start_tx = {"connectorId": 1, "idTag": card, "meterStart": 0, "timestamp": "2026-11-25T10:00:00Z"}
        answer = await charger.send("StartTransaction", start_tx)
        assert answer["idTagInfo"]["status"] == "Accepted"
    else:
        started = load_payload("v201", "transaction_started", tx=f"tx-{card}", id_tag=card)
        answer = await charger.send("TransactionEvent", started)
        assert answer["idTokenInfo"]["status"] == "Accepted"


async def allocation(station, evse_id: int = 1) -> Allocation | None:
    return await Allocation.objects.filter(station=station, evse_id=evse_id).afirst()


async def test_cars_arriving_share_the_site_and_the_first_goes_down_before_the_second_goes_up():
    site, (first_station, second_station) = await balanced_site("32", 2)
    first = await plugged(first_station.identity, "ocpp1.6")
    second = await plugged(second_station.identity, "ocpp2.0.1")

    # After the boots: each charger's default (32 A / 2 EVSEs), then each idle EVSE's own share.
    async def defaults_given() -> bool:
        return all((0, 16.0) in c.defaults() and (1, 16.0) in c.defaults() for c in (first, second))

    await until(defaults_given)

    await start(first, "CAR1")

    async def first_limited() -> bool:
        return bool(first.session_limits())

    await until(first_limited)
    assert first.session_limits()[-1][1] == 32.0  # a lone car: the whole site
    assert second.defaults()[-1] == (1, 0.0)  # after the other charger's next car was held at 0 A

    await start(second, "CAR2")

    async def second_limited() -> bool:
        return bool(second.session_limits()) and first.session_limits()[-1][1] == 16.0

    await until(second_limited)
    lowered_at = first.session_limits()[-1][0]
    raised_at, raised_to = second.session_limits()[-1]
    assert raised_to == 16.0 and lowered_at < raised_at  # never 32 + 16 at once

    async def verified() -> bool:
        row = await allocation(second_station)
        return row is not None and row.composite_checked_at is not None

    await until(verified)
    row = await allocation(second_station)
    assert (row.applied_amps, row.composite_limit_amps, row.composite_mismatch) == (
        Decimal("16"),
        Decimal("16"),
        False,
    )
    await first.close()
    await second.close()


async def test_a_charger_refusing_its_lower_limit_keeps_the_other_car_waiting():
    site, (first_station, second_station) = await balanced_site("32", 2)
    first = await plugged(first_station.identity, "ocpp1.6")
    second = await plugged(second_station.identity, "ocpp1.6")
    await start(first, "CAR1")

    async def first_at_full() -> bool:
        return bool(first.session_limits()) and first.session_limits()[-1][1] == 32.0

    await until(first_at_full)
    first.refuse_session_limits = True
    await start(second, "CAR2")

    async def refused() -> bool:
        row = await allocation(first_station)
        return row is not None and row.status == AllocationStatus.REJECTED

    await until(refused)
    await asyncio.sleep(1.5)  # the replanned recompute has run
    row = await allocation(first_station)
    assert row.applied_amps == Decimal("32")  # what the refusing charger keeps, and is counted at
    waiting = await allocation(second_station)
    assert waiting.amps == Decimal("0")
    assert all(limit == 0.0 for _, limit in second.session_limits())
    await first.close()
    await second.close()


async def test_a_hundred_events_in_a_burst_cause_one_recompute():
    site, stations = await balanced_site("32", 1)
    scheduled = [triggers.site_rebalance_soon(site.pk) for _ in range(100)]
    assert sum(scheduled) == 1

    async def recomputed() -> bool:
        return await site.load_samples.acount() >= 1

    await until(recomputed)
    await asyncio.sleep(1.5)
    assert await site.load_samples.acount() == 1
    # The next event, after the recompute began, is not lost.
    assert triggers.site_rebalance_soon(site.pk)

    async def again() -> bool:
        return await site.load_samples.acount() == 2

    await until(again)
