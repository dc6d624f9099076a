"""Charging profiles on the wire: SetChargingProfile, ClearChargingProfile and GetCompositeSchedule for
1.6 and 2.0.1, built from a limit in amps per phase. The adapters expose these as their
`charging_profile_call`, `clear_charging_profile_call`, `composite_schedule_call` and read the answers
with `profile_accepted` and `composite_limit`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from django.utils import timezone

from stations.ocpp.base import format_timestamp


class ProfilePurpose(StrEnum):
    """What a limit applies to: one running session, every session by default, or the whole charger."""

    SESSION = "session"  # TxProfile, tied to the running transaction
    SESSION_DEFAULT = "session_default"  # TxDefaultProfile: sessions without a profile of their own
    CHARGER_MAX = "charger_max"  # ChargePointMaxProfile (1.6) / ChargingStationMaxProfile (2.0.1)


PURPOSE_16 = {
    ProfilePurpose.SESSION: "TxProfile",
    ProfilePurpose.SESSION_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.CHARGER_MAX: "ChargePointMaxProfile",
}
PURPOSE_201 = {
    ProfilePurpose.SESSION: "TxProfile",
    ProfilePurpose.SESSION_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.CHARGER_MAX: "ChargingStationMaxProfile",
}


@dataclass(frozen=True)
class ProfileLimit:
    """One constant limit: `amps` per phase on `phases` phases (None: as the charger is wired)."""

    profile_id: int
    purpose: ProfilePurpose
    amps: Decimal
    evse_id: int = 0  # 0: the whole charger (defaults and the charger maximum)
    phases: int | None = None
    transaction_id: str | None = None  # the session's id on the wire (ProfilePurpose.SESSION only)
    stack_level: int = 0
    # A schedule instead of the constant `amps` (a fleet plan): (seconds from `starts_at`, amps per
    # phase), the first at 0, run as an Absolute profile from `starts_at` for `duration_s`.
    periods: tuple[tuple[int, Decimal], ...] = ()
    starts_at: datetime | None = None
    duration_s: int | None = None


def _number(amps: Decimal) -> float:
    # OCPP limits are decimals with one fractional digit (1.6: multipleOf 0.1).
    return float(amps.quantize(Decimal("0.1")))


def _periods(limit: ProfileLimit) -> list[dict[str, Any]]:
    periods = []
    for start_s, amps in limit.periods or ((0, limit.amps),):
        period: dict[str, Any] = {"startPeriod": start_s, "limit": _number(amps)}
        if limit.phases:
            period["numberPhases"] = limit.phases
        periods.append(period)
    return periods


def _schedule(limit: ProfileLimit) -> dict[str, Any]:
    schedule: dict[str, Any] = {"chargingRateUnit": "A", "chargingSchedulePeriod": _periods(limit)}
    if limit.duration_s is not None:
        schedule["duration"] = limit.duration_s
    return schedule


def _kind_and_start(limit: ProfileLimit) -> tuple[str, datetime | None]:
    """Session limits count from the session's start (Relative); the charger maximum has no session to
    count from, so it starts (Absolute) a minute ago, for a charger clock slightly behind ours. A
    schedule runs (Absolute) from its own start."""
    if limit.starts_at is not None:
        return "Absolute", limit.starts_at
    if limit.purpose == ProfilePurpose.CHARGER_MAX:
        return "Absolute", timezone.now() - timedelta(minutes=1)
    return "Relative", None


def set_profile_16(limit: ProfileLimit) -> tuple[str, dict[str, Any]]:
    kind, start = _kind_and_start(limit)
    schedule = _schedule(limit)
    if start is not None:
        schedule["startSchedule"] = format_timestamp(start)
    profile: dict[str, Any] = {
        "chargingProfileId": limit.profile_id,
        "stackLevel": limit.stack_level,
        "chargingProfilePurpose": PURPOSE_16[limit.purpose],
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if limit.purpose == ProfilePurpose.SESSION:
        if limit.transaction_id is None or not limit.transaction_id.isdigit():
            raise ValueError("A 1.6 session profile needs the integer transaction id.")
        profile["transactionId"] = int(limit.transaction_id)
    return "SetChargingProfile", {"connectorId": limit.evse_id, "csChargingProfiles": profile}


def set_profile_201(limit: ProfileLimit) -> tuple[str, dict[str, Any]]:
    kind, start = _kind_and_start(limit)
    schedule = {"id": limit.profile_id, **_schedule(limit)}
    if start is not None:
        schedule["startSchedule"] = format_timestamp(start)
    profile: dict[str, Any] = {
        "id": limit.profile_id,
        "stackLevel": limit.stack_level,
        "chargingProfilePurpose": PURPOSE_201[limit.purpose],
        "chargingProfileKind": kind,
        "chargingSchedule": [schedule],
    }
    if limit.purpose == ProfilePurpose.SESSION:
        if not limit.transaction_id:
            raise ValueError("A session profile needs the transaction id.")
        profile["transactionId"] = limit.transaction_id
    return "SetChargingProfile", {"evseId": limit.evse_id, "chargingProfile": profile}


def clear_profile_16(
    *, profile_id: int | None = None, evse_id: int | None = None, purpose: ProfilePurpose | None = None
) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {}
    if profile_id is not None:
        payload["id"] = profile_id
    if evse_id is not None:
        payload["connectorId"] = evse_id
    if purpose is not None:
        payload["chargingProfilePurpose"] = PURPOSE_16[purpose]
    return "ClearChargingProfile", payload


def clear_profile_201(
    *, profile_id: int | None = None, evse_id: int | None = None, purpose: ProfilePurpose | None = None
) -> tuple[str, dict[str, Any]]:
    if profile_id is not None:
        return "ClearChargingProfile", {"chargingProfileId": profile_id}
    criteria: dict[str, Any] = {}
    if evse_id is not None:
        criteria["evseId"] = evse_id
    if purpose is not None:
        criteria["chargingProfilePurpose"] = PURPOSE_201[purpose]
    return "ClearChargingProfile", {"chargingProfileCriteria": criteria} if criteria else {}


def composite_16(*, evse_id: int, duration_s: int = 60) -> tuple[str, dict[str, Any]]:
    return "GetCompositeSchedule", {"connectorId": evse_id, "duration": duration_s, "chargingRateUnit": "A"}


def composite_201(*, evse_id: int, duration_s: int = 60) -> tuple[str, dict[str, Any]]:
    return "GetCompositeSchedule", {"evseId": evse_id, "duration": duration_s, "chargingRateUnit": "A"}


def profile_accepted(answer: dict[str, Any]) -> bool:
    """Set/ClearChargingProfile answers (both versions): whether the charger took it."""
    return answer.get("status") == "Accepted"


def _first_limit(schedule: Any) -> Decimal | None:
    if not isinstance(schedule, dict) or schedule.get("chargingRateUnit") != "A":
        return None
    periods = schedule.get("chargingSchedulePeriod") or []
    current = [p for p in periods if isinstance(p, dict) and p.get("startPeriod", 0) <= 0]
    if not current:
        return None
    try:
        return Decimal(str(current[-1]["limit"]))
    except (KeyError, InvalidOperation):
        return None


def composite_limit_16(answer: dict[str, Any]) -> Decimal | None:
    """The limit in force now, in amps, from GetCompositeSchedule.conf; None if there is none."""
    return _first_limit(answer.get("chargingSchedule")) if profile_accepted(answer) else None


def composite_limit_201(answer: dict[str, Any]) -> Decimal | None:
    """The limit in force now, in amps, from GetCompositeScheduleResponse; None if there is none."""
    return _first_limit(answer.get("schedule")) if profile_accepted(answer) else None
