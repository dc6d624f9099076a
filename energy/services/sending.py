"""Limits sent to chargers as charging profiles, many chargers at once, and checked afterwards with
GetCompositeSchedule. Every call goes through stations.ocpp.commands, which records it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.utils import timezone

from energy.models import AllocationStatus
from stations.exceptions import CallRejected, StationError, StationOffline
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.base import ProtocolAdapter
from stations.ocpp.commands import station_call_async
from stations.ocpp.profiles import ProfileLimit, ProfilePurpose, profile_accepted

logger = logging.getLogger(__name__)

CALL_TIMEOUT_S = 15.0
REQUESTED_BY = "load balancing"
# Profile ids: one per purpose and EVSE, so that a new limit replaces the last one (both versions
# replace an installed profile of the same id).
CHARGER_MAX_PROFILE_ID = 1
CHARGER_DEFAULT_PROFILE_ID = 2
EVSE_DEFAULT_PROFILE_BASE = 100
SESSION_PROFILE_BASE = 1000
Call = tuple[str, dict[str, Any]]  # (action, payload)
Build = Callable[[type[ProtocolAdapter]], Call]  # the call for the charger's OCPP version


class SendKind(StrEnum):
    SESSION = "session limit"  # TxProfile of the running session
    EVSE_DEFAULT = "default for the next session"  # TxDefaultProfile of one EVSE
    CHARGER_DEFAULT = "charger default"  # TxDefaultProfile of the whole charger (EVSE 0)
    CHARGER_MAX = "charger maximum"  # ChargePointMaxProfile / ChargingStationMaxProfile


@dataclass(frozen=True)
class Send:
    """One limit to send: `amps` per phase, replacing `previous`, the limit in force (None: unknown)."""

    kind: SendKind
    station_id: int
    identity: str
    protocol: str
    evse_id: int
    amps: Decimal
    previous: Decimal | None
    reason: str
    phases: int | None = None
    session_id: int | None = None
    transaction_id: str | None = None

    @property
    def key(self) -> tuple[int, int]:
        return self.station_id, self.evse_id

    @property
    def lowers(self) -> bool:
        """Whether the limit goes down (or from unknown): such limits are sent before any that rise."""
        return self.previous is None or self.amps < self.previous

    def profile(self) -> ProfileLimit:
        purpose, profile_id = {
            SendKind.SESSION: (ProfilePurpose.SESSION, SESSION_PROFILE_BASE + self.evse_id),
            SendKind.EVSE_DEFAULT: (ProfilePurpose.SESSION_DEFAULT, EVSE_DEFAULT_PROFILE_BASE + self.evse_id),
            SendKind.CHARGER_DEFAULT: (ProfilePurpose.SESSION_DEFAULT, CHARGER_DEFAULT_PROFILE_ID),
            SendKind.CHARGER_MAX: (ProfilePurpose.CHARGER_MAX, CHARGER_MAX_PROFILE_ID),
        }[self.kind]
        return ProfileLimit(
            profile_id=profile_id,
            purpose=purpose,
            amps=self.amps,
            evse_id=self.evse_id,
            phases=self.phases,
            transaction_id=self.transaction_id,
        )


@dataclass(frozen=True)
class Sent:
    send: Send
    status: AllocationStatus
    at: datetime
    error: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == AllocationStatus.ACCEPTED


async def _station_call(identity: str, call: Call, requested_by: str) -> dict[str, Any]:
    action, payload = call
    return await station_call_async(
        identity=identity, action=action, payload=payload, timeout=CALL_TIMEOUT_S, requested_by=requested_by
    )


async def profile_call(
    *, protocol: str, identity: str, build: Build, requested_by: str
) -> tuple[AllocationStatus, str]:
    """Send one charging-profile call (set or clear) built by `build(adapter)`; the charger's answer as a
    status and an error, never raising for the charger's sake."""
    adapter = ADAPTERS.get(protocol)
    if adapter is None:
        return AllocationStatus.OFFLINE, "The charger has never connected."
    try:
        answer = await _station_call(identity, build(adapter), requested_by)
    except StationOffline as error:
        return AllocationStatus.OFFLINE, str(error)[:300]
    except CallRejected as error:
        return AllocationStatus.REJECTED, str(error)[:300]
    except (StationError, ValueError) as error:
        return AllocationStatus.FAILED, str(error)[:300]
    if profile_accepted(answer):
        return AllocationStatus.ACCEPTED, ""
    return AllocationStatus.REJECTED, f"The charger answered {answer.get('status') or 'nothing'}."


async def profile_send(send: Send) -> Sent:
    """Send one limit; the outcome says whether the charger took it, never raises for the charger's sake."""
    status, error = await profile_call(
        protocol=send.protocol,
        identity=send.identity,
        build=lambda adapter: adapter.charging_profile_call(send.profile()),
        requested_by=REQUESTED_BY,
    )
    return Sent(send, status, timezone.now(), error)


async def profiles_send(sends: Sequence[Send]) -> list[Sent]:
    """Send limits to many chargers at once (each charger still takes its calls one at a time)."""
    return list(await asyncio.gather(*(profile_send(send) for send in sends)))


@dataclass(frozen=True)
class Composite:
    send: Send
    limit_amps: Decimal | None  # None: the charger gave no schedule in amps
    at: datetime
    error: str = ""

    @property
    def mismatch(self) -> bool:
        return self.limit_amps is None or abs(self.limit_amps - self.send.amps) > Decimal("0.1")


async def composite_check(send: Send) -> Composite | None:
    """Ask the charger which limit it applies on the EVSE now (GetCompositeSchedule); None when it
    cannot tell (the charger does not support it or is gone)."""
    adapter = ADAPTERS.get(send.protocol)
    if adapter is None:
        return None
    call = adapter.composite_schedule_call(evse_id=send.evse_id)
    try:
        answer = await _station_call(send.identity, call, REQUESTED_BY)
    except CallRejected as error:
        if error.code in ("NotImplemented", "NotSupported"):
            return None
        return Composite(send, None, timezone.now(), str(error)[:300])
    except StationError:
        return None
    composite = Composite(send, adapter.composite_limit(answer), timezone.now())
    if composite.mismatch:
        logger.warning(
            "%s EVSE %s: composite schedule %s A, sent %s A",
            send.identity,
            send.evse_id,
            composite.limit_amps,
            send.amps,
        )
    return composite


async def composites_check(sends: Sequence[Send]) -> list[Composite]:
    checked = await asyncio.gather(*(composite_check(send) for send in sends))
    return [composite for composite in checked if composite is not None]
