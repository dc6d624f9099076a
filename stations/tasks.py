from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task
def station_mark_offline_overdue_task() -> int:
    from stations.services.registry import station_mark_offline_overdue

    return station_mark_offline_overdue()


@shared_task
def frames_prune_task() -> int:
    from stations.services.journal import frames_prune

    return frames_prune()


@shared_task
def station_call_task(
    *, identity: str, action: str, payload: dict[str, Any] | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Send a call to a charger from a worker; the socket may be held by any gateway process."""
    from stations.ocpp.commands import station_call

    return station_call(
        identity=identity, action=action, payload=payload, timeout=timeout, requested_by="celery"
    )


@shared_task
def sessions_stop_over_limit_task() -> int:
    """Ask chargers to stop the sessions that ran past what their access rule allows."""
    from stations.services.limits import sessions_stop_over_limit

    return sessions_stop_over_limit()


@shared_task
def local_lists_sync_task(*, station_ids: list[int] | None = None) -> int:
    """Bring chargers' local authorization lists up to date (all online chargers when no ids)."""
    from stations.services.local_list import local_lists_sync

    return local_lists_sync(station_ids=station_ids)
