"""Sessions that outlast what their access rule allows are stopped remotely, and the attempt kept."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stations.exceptions import CallRejected, StationError
from stations.models import ChargingSession
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.commands import station_call_async

# A charger that did not stop (offline, busy, refused) is asked again after this long.
LIMIT_STOP_RETRY = timedelta(minutes=5)


def sessions_over_limit(*, now: datetime) -> list[ChargingSession]:
    """Open sessions past their allowed time, not asked to stop within the retry interval."""
    with transaction.atomic():
        sessions = list(
            ChargingSession.objects.open()
            .filter(allowed_until__lte=now)
            .filter(
                Q(limit_stop_requested_at__isnull=True)
                | Q(limit_stop_requested_at__lte=now - LIMIT_STOP_RETRY)
            )
            .select_related("station")
            .select_for_update(skip_locked=True, of=("self",))
        )
        # Marked before the calls, so that an overlapping run does not ask again.
        ChargingSession.objects.filter(pk__in=[s.pk for s in sessions]).update(limit_stop_requested_at=now)
    return sessions


async def _session_stop_remotely(session: ChargingSession) -> tuple[bool, str]:
    """Ask the charger to stop the session; return whether it accepted, and what came of it in words."""
    adapter = ADAPTERS.get(session.station.protocol)
    call = adapter.remote_stop_call(session.external_id or "") if adapter else None
    if call is None:
        return False, "Cannot ask the charger to stop: its transaction id or OCPP version is unknown."
    action, payload = call
    try:
        answer = await station_call_async(
            identity=session.station.identity, action=action, payload=payload, requested_by="access limit"
        )
    except CallRejected as error:
        return False, f"The charger refused {action}: {error}; will retry."
    except StationError as error:
        return False, f"Not stopped yet, will retry: {error}"
    status = answer.get("status", "")
    if status == "Accepted":
        return True, f"Stopped remotely when the limit was reached ({session.limit or 'access rule'})."
    return False, f"The charger answered {status or 'nothing'} to {action}; will retry."


def sessions_stop_over_limit(*, now: datetime | None = None) -> int:
    """Ask chargers to stop every session past its limit, at once; return how many accepted."""
    now = now or timezone.now()
    sessions = sessions_over_limit(now=now)
    if not sessions:
        return 0

    async def stop_all() -> list[tuple[bool, str]]:
        return await asyncio.gather(*(_session_stop_remotely(session) for session in sessions))

    outcomes = async_to_sync(stop_all)()
    for session, (_, outcome) in zip(sessions, outcomes, strict=True):
        ChargingSession.objects.filter(pk=session.pk).update(limit_stop_outcome=outcome[:200])
    return sum(accepted for accepted, _ in outcomes)
