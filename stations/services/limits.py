"""Sessions that outlast what their access rule allows are stopped remotely, and the attempt kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stations.models import ChargingSession
from stations.ocpp.commands import each_at_once
from stations.services.remote import session_stop_remotely_async

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


async def _session_stop_at_limit(session: ChargingSession) -> tuple[bool, str]:
    outcome = await session_stop_remotely_async(session=session, requested_by="access limit")
    if outcome.accepted:
        return True, f"Stopped remotely when the limit was reached ({session.limit or 'access rule'})."
    return False, f"{outcome.message} Asked again in {LIMIT_STOP_RETRY.seconds // 60} minutes."


def sessions_stop_over_limit(*, now: datetime | None = None) -> int:
    """Ask chargers to stop every session past its limit, at once; return how many accepted."""
    now = now or timezone.now()
    sessions = sessions_over_limit(now=now)
    if not sessions:
        return 0

    outcomes = each_at_once(_session_stop_at_limit, sessions)
    for session, (_, outcome) in zip(sessions, outcomes, strict=True):
        ChargingSession.objects.filter(pk=session.pk).update(limit_stop_outcome=outcome[:200])
    return sum(accepted for accepted, _ in outcomes)
