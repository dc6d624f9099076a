"""The adapters' charging-profile calls: valid against each version's OCPP schema, and their answers read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.framing import CALL, CALLRESULT
from stations.ocpp.profiles import ProfileLimit, ProfilePurpose, profile_accepted
from stations.ocpp.validation import validate_payload

VERSIONS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
TX_ID = {"ocpp1.6": "42", "ocpp2.0.1": "c0ffee-42"}


def valid_request(version: str, call: tuple[str, dict]) -> dict:
    action, payload = call
    validate_payload(version=VERSIONS[version], message_type=CALL, action=action, payload=payload)
    return payload


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("amps", [Decimal("16.1"), Decimal("0"), Decimal("6"), Decimal("31.7")])
def test_a_session_limit_is_a_valid_tx_profile_with_the_transaction_and_phases(version, amps):
    adapter = ADAPTERS[version]
    limit = ProfileLimit(
        profile_id=101,
        purpose=ProfilePurpose.SESSION,
        amps=amps,
        evse_id=2,
        phases=3,
        transaction_id=TX_ID[version],
        stack_level=1,
    )
    payload = valid_request(version, adapter.charging_profile_call(limit))
    if version == "ocpp1.6":
        profile = payload["csChargingProfiles"]
        assert payload["connectorId"] == 2
        assert profile["transactionId"] == 42
        schedule = profile["chargingSchedule"]
    else:
        profile = payload["chargingProfile"]
        assert payload["evseId"] == 2
        assert profile["transactionId"] == "c0ffee-42"
        (schedule,) = profile["chargingSchedule"]
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["chargingProfileKind"] == "Relative"
    assert schedule["chargingRateUnit"] == "A"
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": float(amps), "numberPhases": 3}]


@pytest.mark.parametrize("version", VERSIONS)
def test_defaults_and_the_charger_maximum_are_valid_for_the_whole_charger(version):
    adapter = ADAPTERS[version]
    default = valid_request(
        version,
        adapter.charging_profile_call(
            ProfileLimit(profile_id=10, purpose=ProfilePurpose.SESSION_DEFAULT, amps=Decimal("10"))
        ),
    )
    maximum = valid_request(
        version,
        adapter.charging_profile_call(
            ProfileLimit(profile_id=1, purpose=ProfilePurpose.CHARGER_MAX, amps=Decimal("32"), phases=3)
        ),
    )
    key = "csChargingProfiles" if version == "ocpp1.6" else "chargingProfile"
    assert default[key]["chargingProfilePurpose"] == "TxDefaultProfile"
    assert "transactionId" not in default[key]
    assert maximum[key]["chargingProfilePurpose"] == (
        "ChargePointMaxProfile" if version == "ocpp1.6" else "ChargingStationMaxProfile"
    )
    assert maximum[key]["chargingProfileKind"] == "Absolute"
    assert (
        default.get("connectorId", default.get("evseId")),
        maximum.get("connectorId", maximum.get("evseId")),
    ) == (
        0,
        0,
    )


def test_a_1_6_session_limit_needs_an_integer_transaction_id():
    limit = ProfileLimit(
        profile_id=101, purpose=ProfilePurpose.SESSION, amps=Decimal("8"), evse_id=1, transaction_id="abc"
    )
    with pytest.raises(ValueError, match="integer transaction id"):
        ADAPTERS["ocpp1.6"].charging_profile_call(limit)


@pytest.mark.parametrize("version", VERSIONS)
def test_clearing_and_composite_schedule_calls_are_valid(version):
    adapter = ADAPTERS[version]
    valid_request(version, adapter.clear_charging_profile_call(profile_id=101))
    valid_request(version, adapter.clear_charging_profile_call(evse_id=1, purpose=ProfilePurpose.SESSION))
    valid_request(version, adapter.clear_charging_profile_call())
    payload = valid_request(version, adapter.composite_schedule_call(evse_id=3))
    assert payload["duration"] == 60 and payload["chargingRateUnit"] == "A"


COMPOSITE_ANSWERS = {
    "ocpp1.6": {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-01-01T10:00:00Z",
        "chargingSchedule": {
            "duration": 60,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13.5, "numberPhases": 3}],
        },
    },
    "ocpp2.0.1": {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 60,
            "scheduleStart": "2026-01-01T10:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13.5, "numberPhases": 3}],
        },
    },
}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_composite_limit_is_read_from_a_valid_answer(version):
    answer = COMPOSITE_ANSWERS[version]
    validate_payload(
        version=VERSIONS[version], message_type=CALLRESULT, action="GetCompositeSchedule", payload=answer
    )
    adapter = ADAPTERS[version]
    assert adapter.composite_limit(answer) == Decimal("13.5")
    assert adapter.composite_limit({"status": "Rejected"}) is None
    assert profile_accepted({"status": "Accepted"}) and not profile_accepted({"status": "Rejected"})
