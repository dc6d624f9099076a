"""SetChargingProfile, ClearChargingProfile and GetCompositeSchedule as the simulated charger answers them,
in the 1.6 and 2.0.1 shapes, over smart_charging's profile store; and the TxProfile a remote start brings.

1.6 answers a refused profile with Rejected alone; 2.0.1 adds a statusInfo whose reasonCode says why
(UnknownEvse, TxNotFound, InvalidProfile, InvalidSchedule, InvalidStackLevel, InvalidValue,
DuplicateProfile, TooManyProfiles). A composite schedule comes in the unit asked for, amps by default.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stations.simulator.link import Answer
from stations.simulator.meter import timestamp
from stations.simulator.smart_charging import (
    PURPOSES_201,
    Limit,
    Period,
    Profile,
    ProfileRefused,
    Purpose,
)

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger


# --- reading profiles from either version ----------------------------------------------------------
def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProfileRefused("InvalidValue", f"{value!r} is not a dateTime") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _profile(fields: dict[str, Any], schedule: dict[str, Any], **known: Any) -> Profile:
    periods = tuple(
        Period(p["startPeriod"], float(p["limit"]), p.get("numberPhases", 3))
        for p in schedule["chargingSchedulePeriod"]
    )
    return Profile(
        stack_level=fields["stackLevel"],
        kind=fields["chargingProfileKind"],
        unit=schedule["chargingRateUnit"],
        periods=periods,
        start=_time(schedule.get("startSchedule")),
        duration_s=schedule.get("duration"),
        recurrency=fields.get("recurrencyKind"),
        valid_from=_time(fields.get("validFrom")),
        valid_to=_time(fields.get("validTo")),
        transaction_id=fields.get("transactionId"),
        **known,
    )


def profile_from_16(fields: dict[str, Any], connector_id: int = 0) -> Profile:
    """A 1.6 csChargingProfiles (or a RemoteStartTransaction's chargingProfile)."""
    return _profile(
        fields,
        fields["chargingSchedule"],
        id=fields["chargingProfileId"],
        purpose=Purpose(fields["chargingProfilePurpose"]),
        connector_id=connector_id,
    )


def profile_from_201(fields: dict[str, Any], evse_id: int = 0) -> Profile:
    """A 2.0.1 chargingProfile with its one schedule (more are for ISO 15118, which this charger lacks)."""
    purpose = PURPOSES_201.get(fields["chargingProfilePurpose"])
    if purpose is None:  # ChargingStationExternalConstraints come from the site, never from the CSMS
        raise ProfileRefused("InvalidProfile", "the CSMS cannot set external constraints")
    if len(fields["chargingSchedule"]) != 1:
        raise ProfileRefused("InvalidSchedule", "one chargingSchedule only (no ISO 15118)")
    if purpose == Purpose.CHARGER_MAX and fields["chargingProfileKind"] == "Relative":  # K01.FR.38
        raise ProfileRefused("InvalidProfile", "a station maximum cannot be Relative")
    return _profile(
        fields, fields["chargingSchedule"][0], id=fields["id"], purpose=purpose, connector_id=evse_id
    )


def profile_check(profile: Profile, *, version: str, max_stack_level: int, max_periods: int) -> None:
    """Raise ProfileRefused for a schedule this charger cannot follow or the version forbids."""
    if profile.purpose == Purpose.CHARGER_MAX and profile.connector_id != 0:
        raise ProfileRefused("InvalidProfile", "a charger maximum belongs to connector 0")
    if profile.purpose == Purpose.TX and profile.connector_id == 0:
        raise ProfileRefused("InvalidProfile", "a TxProfile needs a connector")
    if not 0 <= profile.stack_level <= max_stack_level:
        raise ProfileRefused("InvalidStackLevel", f"stackLevel is 0 to {max_stack_level}")
    starts = [p.start_s for p in profile.periods]
    if not starts or starts[0] != 0 or starts != sorted(set(starts)):
        raise ProfileRefused("InvalidSchedule", "periods start at 0 and then increase")
    if len(starts) > max_periods:
        raise ProfileRefused("InvalidSchedule", f"at most {max_periods} periods")
    if any(p.limit < 0 or not 1 <= p.phases <= 3 for p in profile.periods):
        raise ProfileRefused("InvalidSchedule", "limits are positive, phases 1 to 3")
    if profile.valid_from and profile.valid_to and profile.valid_to <= profile.valid_from:
        raise ProfileRefused("InvalidValue", "validTo is before validFrom")
    if profile.kind == "Recurring" and (profile.start is None or profile.recurrency is None):
        raise ProfileRefused("InvalidSchedule", "a Recurring profile needs startSchedule and recurrencyKind")
    if version != "1.6":
        if profile.kind == "Absolute" and profile.start is None:  # K01.FR.40
            raise ProfileRefused("InvalidSchedule", "an Absolute profile needs startSchedule")
        if profile.kind == "Relative" and profile.start is not None:  # K01.FR.41
            raise ProfileRefused("InvalidSchedule", "a Relative profile has no startSchedule")


def _checked(charger: SimulatedCharger, profile: Profile) -> Profile:
    config = charger.config
    profile_check(
        profile,
        version=charger.dialect.version,
        max_stack_level=config.integer("ChargeProfileMaxStackLevel"),
        max_periods=config.integer("ChargingScheduleMaxPeriods"),
    )
    return profile


def profile_install(charger: SimulatedCharger, profile: Profile) -> None:
    """Take a SetChargingProfile of either version and follow it at once; raise ProfileRefused."""
    version = charger.dialect.version
    connector = charger.connectors.get(profile.connector_id)
    if profile.connector_id and connector is None:
        raise ProfileRefused("UnknownEvse", f"no connector {profile.connector_id}")
    if profile.purpose == Purpose.TX and connector is not None:
        running = connector.transaction_id
        if running is None:
            raise ProfileRefused("TxNotFound", "no transaction runs on this connector")
        if profile.transaction_id is None:
            if version != "1.6":  # K01.FR.03
                raise ProfileRefused("InvalidProfile", "a TxProfile names its transactionId")
            profile = replace(profile, transaction_id=running)
        elif profile.transaction_id != running:
            raise ProfileRefused("TxNotFound", f"transaction {profile.transaction_id} does not run here")
    charger.profiles.install(_checked(charger, profile), version=version)
    charger.rebalance()


def start_profile(charger: SimulatedCharger, profile: Profile, connector_id: int) -> Profile:
    """The checked TxProfile of a remote start, for the transaction about to begin on the connector."""
    if profile.purpose != Purpose.TX:
        raise ProfileRefused("InvalidProfile", "a remote start brings a TxProfile only")
    return _checked(charger, replace(profile, connector_id=connector_id, transaction_id=None))


# --- the composite schedule -------------------------------------------------------------------------
def _composite(
    charger: SimulatedCharger, connector_id: int, duration_s: int, unit: str
) -> tuple[datetime, list[dict[str, Any]]] | None:
    if connector_id and connector_id not in charger.connectors:
        return None
    connector = charger.connectors.get(connector_id)
    start = datetime.now(UTC)
    periods = charger.profiles.composite(
        connector_id,
        start,
        duration_s,
        unit,
        connector.transaction_started_at if connector else None,
        connector.transaction_id if connector else None,
    )
    return start, [_period(offset_s, limit) for offset_s, limit in periods]


def _period(offset_s: int, limit: Limit) -> dict[str, Any]:
    return {"startPeriod": offset_s, "limit": limit.value, "numberPhases": limit.phases}


# --- 1.6 --------------------------------------------------------------------------------------------
def set_charging_profile_16(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    try:
        profile_install(charger, profile_from_16(p["csChargingProfiles"], p["connectorId"]))
    except ProfileRefused as refusal:
        charger.log.info("charging profile refused: %s", refusal)
        return Answer({"status": "Rejected"})
    return Answer({"status": "Accepted"})


def clear_charging_profile_16(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    purpose = p.get("chargingProfilePurpose")
    cleared = charger.profiles.clear(
        profile_id=p.get("id"),
        connector_id=p.get("connectorId"),
        purpose=Purpose(purpose) if purpose else None,
        stack_level=p.get("stackLevel"),
    )
    if cleared:
        charger.rebalance()
    return Answer({"status": "Accepted" if cleared else "Unknown"})


def get_composite_schedule_16(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    unit = p.get("chargingRateUnit", "A")
    composite = _composite(charger, p["connectorId"], p["duration"], unit)
    if composite is None:
        return Answer({"status": "Rejected"})
    start, periods = composite
    schedule = {
        "duration": p["duration"],
        "startSchedule": timestamp(start),
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
    }
    return Answer(
        {
            "status": "Accepted",
            "connectorId": p["connectorId"],
            "scheduleStart": timestamp(start),
            "chargingSchedule": schedule,
        }
    )


# --- 2.0.1 ------------------------------------------------------------------------------------------
def _refused(refusal: ProfileRefused) -> dict[str, Any]:
    info = {"reasonCode": refusal.reason} | ({"additionalInfo": refusal.detail} if refusal.detail else {})
    return {"status": "Rejected", "statusInfo": info}


def set_charging_profile_201(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    try:
        profile_install(charger, profile_from_201(p["chargingProfile"], p["evseId"]))
    except ProfileRefused as refusal:
        charger.log.info("charging profile refused: %s", refusal)
        return Answer(_refused(refusal))
    return Answer({"status": "Accepted"})


def clear_charging_profile_201(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    criteria = p.get("chargingProfileCriteria", {})
    purpose = criteria.get("chargingProfilePurpose")
    if purpose is not None and purpose not in PURPOSES_201:  # external constraints are not the CSMS's
        return Answer({"status": "Unknown"})
    cleared = charger.profiles.clear(
        profile_id=p.get("chargingProfileId"),
        connector_id=criteria.get("evseId"),
        purpose=PURPOSES_201[purpose] if purpose else None,
        stack_level=criteria.get("stackLevel"),
    )
    if cleared:
        charger.rebalance()
    return Answer({"status": "Accepted" if cleared else "Unknown"})


def get_composite_schedule_201(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    unit = p.get("chargingRateUnit", "A")
    composite = _composite(charger, p["evseId"], p["duration"], unit)
    if composite is None:
        return Answer(_refused(ProfileRefused("UnknownEvse", f"no EVSE {p['evseId']}")))
    start, periods = composite
    schedule = {
        "evseId": p["evseId"],
        "duration": p["duration"],
        "scheduleStart": timestamp(start),
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
    }
    return Answer({"status": "Accepted", "schedule": schedule})
