"""A fleet plan's schedule on the wire: an Absolute TxProfile of many periods, valid for both versions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.framing import CALL
from stations.ocpp.profiles import ProfileLimit, ProfilePurpose
from stations.ocpp.validation import validate_payload

VERSIONS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
TX_ID = {"ocpp1.6": "42", "ocpp2.0.1": "c0ffee-42"}
START = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_schedule_is_an_absolute_tx_profile_from_its_start_with_every_period(version):
    limit = ProfileLimit(
        profile_id=3001,
        purpose=ProfilePurpose.SESSION,
        amps=Decimal(0),
        evse_id=1,
        phases=3,
        transaction_id=TX_ID[version],
        stack_level=1,
        periods=((0, Decimal(0)), (7200, Decimal("15.9")), (10800, Decimal(0))),
        starts_at=START,
        duration_s=39600,
    )
    action, payload = ADAPTERS[version].charging_profile_call(limit)
    validate_payload(version=VERSIONS[version], message_type=CALL, action=action, payload=payload)

    if version == "ocpp1.6":
        profile = payload["csChargingProfiles"]
        schedule = profile["chargingSchedule"]
        assert profile["chargingProfileId"] == 3001 and profile["transactionId"] == 42
    else:
        profile = payload["chargingProfile"]
        (schedule,) = profile["chargingSchedule"]
        assert profile["id"] == 3001 and profile["transactionId"] == "c0ffee-42"
    assert profile["chargingProfilePurpose"] == "TxProfile" and profile["stackLevel"] == 1
    assert profile["chargingProfileKind"] == "Absolute"
    assert schedule["startSchedule"] == "2026-03-10T19:00:00.000Z" and schedule["duration"] == 39600
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 0.0, "numberPhases": 3},
        {"startPeriod": 7200, "limit": 15.9, "numberPhases": 3},
        {"startPeriod": 10800, "limit": 0.0, "numberPhases": 3},
    ]
