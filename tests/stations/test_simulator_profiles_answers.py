"""The simulated charger answers SetChargingProfile, ClearChargingProfile and GetCompositeSchedule and
follows the profiles while charging, for 1.6 and 2.0.1, against the fake CSMS (every message checked
against the version's schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stations.simulator.charger import SimulatedCharger
from stations.simulator.connector import CHARGING_STATES
from tests.simulator_live import eventually
from tests.stations.test_local_list_simulator import simulated
from tests.stations.test_simulator import FakeCsms, result


def tx_profile(ocpp: str, profile_id: int, limit_a: float, transaction_id: Any = None) -> dict[str, Any]:
    """A TxProfile of one period, Relative, in the version's shape (transactionId when given)."""
    period = {"startPeriod": 0, "limit": limit_a}
    fields: dict[str, Any] = {
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
    }
    if transaction_id is not None:
        fields["transactionId"] = transaction_id
    if ocpp == "1.6":
        schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [period]}
        return {"chargingProfileId": profile_id, **fields, "chargingSchedule": schedule}
    schedule = {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [period]}
    return {"id": profile_id, **fields, "chargingSchedule": [schedule]}


def set_profile(ocpp: str, connector_id: int, profile: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if ocpp == "1.6":
        return "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": profile}
    return "SetChargingProfile", {"evseId": connector_id, "chargingProfile": profile}


def composite(ocpp: str, connector_id: int, unit: str = "A") -> tuple[str, dict[str, Any]]:
    key = "connectorId" if ocpp == "1.6" else "evseId"
    return "GetCompositeSchedule", {key: connector_id, "duration": 600, "chargingRateUnit": unit}


def composite_periods(ocpp: str, answer: dict[str, Any]) -> list[dict[str, Any]]:
    schedule = answer["chargingSchedule"] if ocpp == "1.6" else answer["schedule"]
    return schedule["chargingSchedulePeriod"]


async def remote_start(csms: FakeCsms, charger: SimulatedCharger, ocpp: str, **extra: Any) -> Any:
    if ocpp == "1.6":
        action, payload = "RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE-1", **extra}
    else:
        token = {"idToken": "REMOTE-1", "type": "Central"}
        action, payload = (
            "RequestStartTransaction",
            {"evseId": 1, "idToken": token, "remoteStartId": 1, **extra},
        )
    assert result(await csms.call(action, payload)) == {"status": "Accepted"}
    await eventually(
        lambda: charger.connectors[1].transaction_id is not None and charger.connectors[1].meter.ev
    )
    return charger.connectors[1].transaction_id


def charging_states(csms: FakeCsms, ocpp: str) -> list[str]:
    """The charging states connector 1 reported, in order."""
    if ocpp == "1.6":
        statuses = [p["status"] for p in csms.sent("StatusNotification", connectorId=1)]
        return [status for status in statuses if status in CHARGING_STATES]
    return [
        p["transactionInfo"]["chargingState"]
        for p in csms.sent("TransactionEvent")
        if p["triggerReason"] == "ChargingStateChanged"
    ]


def powers_w(csms: FakeCsms, ocpp: str, after: int) -> list[float]:
    """Power.Active.Import of connector 1's periodic samples, from the `after`-th message on."""
    action = "MeterValues" if ocpp == "1.6" else "TransactionEvent"
    return [
        float(s["value"])
        for p in csms.sent(action)[after:]
        for mv in p["meterValue"]
        for s in mv["sampledValue"]
        if s.get("measurand") == "Power.Active.Import"
    ]


def meter_messages(csms: FakeCsms, ocpp: str) -> int:
    return len(csms.sent("MeterValues" if ocpp == "1.6" else "TransactionEvent"))


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
async def test_a_tx_profile_limits_the_running_transaction_pauses_at_zero_and_resumes(ocpp):
    async with simulated(ocpp) as (csms, charger):
        charger.config.keys["MeterValueSampleInterval"].value = "1"
        unknown = 1 if ocpp == "1.6" else "no-such-transaction"
        no_transaction = result(await csms.call(*set_profile(ocpp, 1, tx_profile(ocpp, 1, 10, unknown))))
        assert no_transaction["status"] == "Rejected"
        if ocpp == "2.0.1":
            assert no_transaction["statusInfo"]["reasonCode"] == "TxNotFound"

        transaction_id = await remote_start(csms, charger, ocpp)
        await eventually(lambda: "Charging" in charging_states(csms, ocpp))
        if ocpp == "2.0.1":
            other = tx_profile(ocpp, 1, 10, "not-this-one")
            wrong = result(await csms.call(*set_profile(ocpp, 1, other)))
            assert wrong["status"] == "Rejected" and wrong["statusInfo"]["reasonCode"] == "TxNotFound"
            without = result(await csms.call(*set_profile(ocpp, 1, tx_profile(ocpp, 1, 10))))
            assert without["statusInfo"]["reasonCode"] == "InvalidProfile", "K01.FR.03"

        ten = tx_profile(ocpp, 1, 10, transaction_id)
        assert result(await csms.call(*set_profile(ocpp, 1, ten))) == {"status": "Accepted"}
        phases = len(charger.connectors[1].meter.phases())
        assert charger.connectors[1].meter.power_w <= 10 * 230 * phases, "followed before answering"
        answer = result(await csms.call(*composite(ocpp, 1)))
        assert answer["status"] == "Accepted"
        assert composite_periods(ocpp, answer) == [{"startPeriod": 0, "limit": 10.0, "numberPhases": 3}]
        sent = meter_messages(csms, ocpp)
        await eventually(lambda: len(powers_w(csms, ocpp, sent)) >= 2, timeout_s=4)
        assert all(0 < power <= 10 * 230 * phases for power in powers_w(csms, ocpp, sent))

        zero = tx_profile(ocpp, 1, 0, transaction_id)
        assert result(await csms.call(*set_profile(ocpp, 1, zero))) == {"status": "Accepted"}
        await eventually(lambda: charging_states(csms, ocpp)[-1] == "SuspendedEVSE")
        sent = meter_messages(csms, ocpp)
        await eventually(lambda: len(powers_w(csms, ocpp, sent)) >= 2, timeout_s=4)
        assert set(powers_w(csms, ocpp, sent)) == {0.0}

        sixteen = tx_profile(ocpp, 1, 16, transaction_id)
        assert result(await csms.call(*set_profile(ocpp, 1, sixteen))) == {"status": "Accepted"}
        await eventually(lambda: charging_states(csms, ocpp)[-1] == "Charging")
        assert charging_states(csms, ocpp)[-3:] == ["Charging", "SuspendedEVSE", "Charging"]
        assert 0 < charger.connectors[1].meter.power_w <= 16 * 230 * phases

        await csms.call(
            "RequestStopTransaction" if ocpp == "2.0.1" else "RemoteStopTransaction",
            {"transactionId": transaction_id},
        )
        await eventually(lambda: charger.connectors[1].transaction_id is None)
        assert charger.profiles.profiles == [], "a TxProfile goes with its transaction"


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
async def test_a_remote_start_brings_its_tx_profile_to_the_transaction(ocpp):
    async with simulated(ocpp) as (csms, charger):
        await remote_start(csms, charger, ocpp, chargingProfile=tx_profile(ocpp, 4, 0))
        await eventually(lambda: charging_states(csms, ocpp))
        assert charging_states(csms, ocpp)[0] == "SuspendedEVSE", "paused from the start"
        assert charger.connectors[1].meter.power_w == 0
        assert [p.id for p in charger.profiles.profiles] == [4]
        assert charger.profiles.profiles[0].transaction_id == charger.connectors[1].transaction_id


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
async def test_a_charger_maximum_is_shared_by_both_connectors(ocpp):
    station_max: dict[str, Any] = {
        "stackLevel": 0,
        "chargingProfileKind": "Absolute",
        "validFrom": "2020-01-01T00:00:00Z",
    }
    schedule = {
        "startSchedule": "2020-01-01T00:00:00Z",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 9000.0}],
    }
    if ocpp == "1.6":
        station_max |= {"chargingProfileId": 1, "chargingProfilePurpose": "ChargePointMaxProfile"}
        station_max["chargingSchedule"] = schedule
    else:
        station_max |= {"id": 1, "chargingProfilePurpose": "ChargingStationMaxProfile"}
        station_max["chargingSchedule"] = [{"id": 1, **schedule}]
    async with simulated(ocpp) as (csms, charger):
        on_connector = result(await csms.call(*set_profile(ocpp, 1, station_max)))
        assert on_connector["status"] == "Rejected", "a charger maximum belongs to connector 0"
        assert result(await csms.call(*set_profile(ocpp, 0, station_max))) == {"status": "Accepted"}
        for n in (1, 2):
            charger.connectors[n].claim(f"TAG-{n}")
            charger.connectors[n].wake()
        await eventually(lambda: all(c.meter.ev and c.transaction_id for c in charger.connectors.values()))
        charger.rebalance()
        assert sum(c.meter.power_w for c in charger.connectors.values()) <= 9000
        answer = result(await csms.call(*composite(ocpp, 0, "W")))
        assert composite_periods(ocpp, answer) == [{"startPeriod": 0, "limit": 9000.0, "numberPhases": 3}]

        key = "id" if ocpp == "1.6" else "chargingProfileId"
        assert result(await csms.call("ClearChargingProfile", {key: 1})) == {"status": "Accepted"}
        assert result(await csms.call("ClearChargingProfile", {key: 1})) == {"status": "Unknown"}
        for connector in charger.connectors.values():  # no limit any more: each car takes what it accepts
            assert connector.meter.ev is not None
            assert connector.meter.power_w == connector.meter.ev.accepted_power_w() > 0


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
async def test_a_composite_schedule_for_an_unknown_connector_is_rejected(ocpp):
    async with simulated(ocpp) as (csms, _):
        answer = result(await csms.call(*composite(ocpp, 7)))
        assert answer["status"] == "Rejected"
        idle = result(await csms.call(*composite(ocpp, 1)))
        start = idle["scheduleStart"] if ocpp == "1.6" else idle["schedule"]["scheduleStart"]
        assert abs((datetime.fromisoformat(start) - datetime.now(UTC)).total_seconds()) < 5
        assert composite_periods(ocpp, idle) == [{"startPeriod": 0, "limit": 32.0, "numberPhases": 3}]
