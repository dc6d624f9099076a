"""The CSMS limits simulated chargers through its real command path (station_call over the channel layer,
the live gateway, a real WebSocket), for 1.6 and 2.0.1: what the chargers then report and the CSMS stores
stays under the limit, a 0 A profile suspends the car, a higher one resumes it, and the composite
schedule answers the profile."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from stations.models import ChargingSession, Frame, MeterSample, StatusChange
from tests.factories import IdTokenFactory, StationFactory
from tests.simulator_live import charger_online, eventually, eventually_in_db, station_send, use_redis
from tests.stations.test_simulator_profiles_answers import (
    composite,
    composite_periods,
    set_profile,
    tx_profile,
)

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def station_max_w(ocpp: str, limit_w: float) -> dict[str, Any]:
    """A ChargePointMaxProfile (2.0.1: ChargingStationMaxProfile) of one period since 2020, in watts."""
    schedule = {
        "startSchedule": "2020-01-01T00:00:00Z",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_w}],
    }
    common = {"stackLevel": 0, "chargingProfileKind": "Absolute"}
    if ocpp == "1.6":
        return {
            "chargingProfileId": 90,
            "chargingProfilePurpose": "ChargePointMaxProfile",
            **common,
            "chargingSchedule": schedule,
        }
    return {
        "id": 90,
        "chargingProfilePurpose": "ChargingStationMaxProfile",
        **common,
        "chargingSchedule": [{"id": 1, **schedule}],
    }


def powers_after(identity: str, since: datetime, evse_id: int | None = None) -> list[Decimal]:
    """Power.Active.Import the CSMS stored from the charger's samples taken after `since`."""
    samples = MeterSample.objects.filter(
        station__identity=identity, measurand="Power.Active.Import", sampled_at__gt=since
    )
    if evse_id is not None:
        samples = samples.filter(evse_id=evse_id)
    return list(samples.values_list("value", flat=True))


async def wait_for_powers(identity: str, since: datetime, count: int = 2) -> list[Decimal]:
    """The first `count` Power.Active.Import values the CSMS stores from samples taken after `since`."""

    def enough() -> list[Decimal]:
        powers = powers_after(identity, since)
        return powers if len(powers) >= count else []

    powers = await eventually_in_db(enough, 7.5)
    assert powers, f"fewer than {count} samples since {since}"
    return powers


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_the_csms_limits_suspends_and_resumes_a_simulated_charger(ocpp, gateways, settings):
    url = use_redis(gateways, settings)
    identity = f"SIM-PROF-{ocpp}"
    StationFactory(identity=identity)
    IdTokenFactory(id_tag="REMOTE-TAG")

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        send = functools.partial(station_send, identity)
        async with charger_online(identity, url, ocpp) as charger:
            if ocpp == "1.6":
                start = {"connectorId": 1, "idTag": "REMOTE-TAG"}
                await send("RemoteStartTransaction", start)
            else:
                token = {"idToken": "REMOTE-TAG", "type": "Central"}
                await send("RequestStartTransaction", {"evseId": 1, "idToken": token, "remoteStartId": 3})
            connector = charger.connectors[1]
            await eventually(lambda: connector.status == "Charging", timeout_s=8)
            transaction_id = connector.transaction_id
            seen["phases"] = len(connector.meter.phases())
            seen["unlimited_w"] = connector.meter.power_w

            seen["ten"] = await send(*set_profile(ocpp, 1, tx_profile(ocpp, 1, 10, transaction_id)))
            since = timezone.now()
            seen["ten_powers"] = await wait_for_powers(identity, since)
            seen["composite"] = await send(*composite(ocpp, 1))

            seen["zero"] = await send(*set_profile(ocpp, 1, tx_profile(ocpp, 1, 0, transaction_id)))
            since = timezone.now()
            await eventually(lambda: connector.status == "SuspendedEVSE", timeout_s=4)
            seen["zero_powers"] = await wait_for_powers(identity, since)

            seen["sixteen"] = await send(*set_profile(ocpp, 1, tx_profile(ocpp, 1, 16, transaction_id)))
            await eventually(lambda: connector.status == "Charging", timeout_s=4)
            since = timezone.now()
            seen["sixteen_powers"] = await wait_for_powers(identity, since)
            stop = "RemoteStopTransaction" if ocpp == "1.6" else "RequestStopTransaction"
            await send(stop, {"transactionId": transaction_id})
            await eventually(lambda: connector.status == "Available", timeout_s=8)
        seen["protocol_errors"] = charger.stats.protocol_errors
        return seen

    seen = asyncio.run(scenario())
    ceiling_w = {amps: amps * 230 * seen["phases"] for amps in (10, 16)}
    assert seen["unlimited_w"] > ceiling_w[10], "the car takes more than the limit when not limited"
    assert seen["ten"] == seen["zero"] == seen["sixteen"] == {"status": "Accepted"}
    assert seen["ten_powers"] and all(0 < p <= ceiling_w[10] for p in seen["ten_powers"])
    assert seen["zero_powers"] and set(seen["zero_powers"]) == {0}
    assert seen["sixteen_powers"] and all(0 < p <= ceiling_w[16] for p in seen["sixteen_powers"])
    assert composite_periods(ocpp, seen["composite"]) == [
        {"startPeriod": 0, "limit": 10.0, "numberPhases": 3}
    ]
    assert seen["protocol_errors"] == []

    statuses = list(
        StatusChange.objects.filter(station__identity=identity, connector__evse_id=1)
        .order_by("occurred_at", "id")
        .values_list("status", flat=True)
    )
    charging = [s for s in statuses if s in ("charging", "suspended_evse")]
    assert charging == ["charging", "suspended_evse", "charging"], statuses
    session = ChargingSession.objects.get(station__identity=identity)
    assert session.stop_reason == "remote" and session.energy_wh and session.energy_wh > 0
    assert not Frame.objects.filter(identity=identity, message_type=4).exists(), "no CallError either way"


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_a_charger_maximum_keeps_both_connectors_together_under_it(ocpp, gateways, settings):
    url = use_redis(gateways, settings)
    identity = f"SIM-MAX-{ocpp}"
    StationFactory(identity=identity)
    for tag in ("TAG-A", "TAG-B"):
        IdTokenFactory(id_tag=tag)
    limit_w = 9_000.0

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[list[Decimal]], list[str]]:
        send = functools.partial(station_send, identity)
        async with charger_online(identity, url, ocpp) as charger:
            answer = await send(*set_profile(ocpp, 0, station_max_w(ocpp, limit_w)))
            for n, tag in ((1, "TAG-A"), (2, "TAG-B")):
                if ocpp == "1.6":
                    await send("RemoteStartTransaction", {"connectorId": n, "idTag": tag})
                else:
                    token = {"idToken": tag, "type": "Central"}
                    await send("RequestStartTransaction", {"evseId": n, "idToken": token, "remoteStartId": n})
            await eventually(
                lambda: all(c.status == "Charging" for c in charger.connectors.values()), timeout_s=8
            )
            since = timezone.now()

            def three_each() -> list[list[Decimal]]:
                per_evse = [powers_after(identity, since, n) for n in (1, 2)]
                return per_evse if min(len(p) for p in per_evse) >= 3 else []

            per_evse = await eventually_in_db(three_each, 7.5)
            schedule = await send(*composite(ocpp, 0, "W"))
            for connector in charger.connectors.values():
                connector.request_stop("Local")
            await eventually(
                lambda: all(c.status == "Available" for c in charger.connectors.values()), timeout_s=8
            )
        return answer, schedule, per_evse, charger.stats.protocol_errors

    answer, schedule, per_evse, protocol_errors = asyncio.run(scenario())
    assert answer == {"status": "Accepted"} and protocol_errors == []
    assert composite_periods(ocpp, schedule) == [{"startPeriod": 0, "limit": limit_w, "numberPhases": 3}]
    assert per_evse and all(len(powers) >= 3 for powers in per_evse), "three samples from each connector"
    # Samples of both connectors taken in the same second, paired in order: never more than the maximum.
    for first, second in zip(per_evse[0], per_evse[1], strict=False):
        assert 0 < first and 0 < second and first + second <= Decimal(limit_w)
    assert not Frame.objects.filter(identity=identity, message_type=4).exists()


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
def test_the_profiles_the_csms_builds_are_obeyed_reported_and_cleared(ocpp, gateways, settings):
    from stations.ocpp.adapters import ADAPTERS
    from stations.ocpp.profiles import ProfileLimit, ProfilePurpose

    adapter = ADAPTERS[{"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}[ocpp]]
    url = use_redis(gateways, settings)
    identity = f"SIM-CSMS-{ocpp}"
    StationFactory(identity=identity)
    IdTokenFactory(id_tag="REMOTE-TAG")

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def send(call: tuple[str, dict[str, Any]]) -> dict[str, Any]:
            return await station_send(identity, *call)

        async with charger_online(identity, url, ocpp) as charger:
            connector = charger.connectors[1]
            connector.claim("REMOTE-TAG")
            connector.wake()
            await eventually(lambda: connector.status == "Charging", timeout_s=8)
            seen["phases"] = len(connector.meter.phases())
            limit = ProfileLimit(
                profile_id=7,
                purpose=ProfilePurpose.SESSION,
                amps=Decimal("10"),
                evse_id=1,
                transaction_id=str(connector.transaction_id),
            )
            seen["set"] = await send(adapter.charging_profile_call(limit))
            since = timezone.now()
            seen["limited"] = await wait_for_powers(identity, since)
            seen["composite"] = adapter.composite_limit(
                await send(adapter.composite_schedule_call(evse_id=1))
            )
            seen["cleared"] = await send(adapter.clear_charging_profile_call(profile_id=7))
            since = timezone.now()
            seen["free"] = await wait_for_powers(identity, since)
            connector.request_stop("Local")
            await eventually(lambda: connector.status == "Available", timeout_s=8)
        seen["protocol_errors"] = charger.stats.protocol_errors
        return seen

    seen = asyncio.run(scenario())
    ceiling_w = 10 * 230 * seen["phases"]
    assert seen["set"] == seen["cleared"] == {"status": "Accepted"}
    assert seen["composite"] == Decimal("10")
    assert all(0 < power <= ceiling_w for power in seen["limited"])
    assert all(power > ceiling_w for power in seen["free"]), "cleared: the car takes what it accepts"
    assert seen["protocol_errors"] == []
