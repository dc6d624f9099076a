"""Alerts' Celery tasks: each takes ids, calls one service and owns its retries."""

from __future__ import annotations

from celery import shared_task

from stations.alerts.channels import ChannelUnavailable

NOTIFY_MAX_RETRIES = 5  # 1 min, 2, 4, 8, 16: a mail server down for half an hour


@shared_task(bind=True, acks_late=True, max_retries=NOTIFY_MAX_RETRIES)
def alert_notify_task(self, *, alert_id: int, event: str) -> int:  # type: ignore[no-untyped-def]
    """Tell the alert's people it opened or closed; a retry sends only what failed."""
    from stations.alerts.notify import alert_notify

    try:
        return alert_notify(alert_id=alert_id, event=event)
    except ChannelUnavailable as error:
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error


@shared_task(acks_late=True)
def connector_fault_check_task(*, station_id: int, connector_pk: int | None) -> None:
    """Open or close a connector's fault alert from its current status (after each status report)."""
    from stations.alerts.detectors import connector_fault_check

    connector_fault_check(station_id=station_id, connector_pk=connector_pk)


@shared_task(acks_late=True)
def attempt_record_task(*, identity: str, station_id: int | None, outcome: str, at: str) -> None:
    """Record a connection, a refused handshake or a boot answer and check what it bears on."""
    from datetime import datetime

    from stations.alerts.detectors import attempt_record
    from stations.alerts.domain import Attempt

    attempt_record(
        identity=identity, station_id=station_id, outcome=Attempt(outcome), at=datetime.fromisoformat(at)
    )


@shared_task(acks_late=True)
def alert_clear_task(*, key: str, reason: str) -> bool:
    from stations.alerts.services import alert_clear

    return alert_clear(key=key, reason=reason)


@shared_task(acks_late=True)
def offline_scan_task() -> tuple[int, int]:
    """Alert on chargers offline longer than CSMS_ALERT_OFFLINE_MIN (every minute)."""
    from stations.alerts.jobs import offline_scan

    return offline_scan()


@shared_task(acks_late=True)
def stuck_sessions_scan_task() -> tuple[int, int]:
    """Alert on sessions charging without meter progress (every 5 minutes)."""
    from stations.alerts.jobs import stuck_sessions_scan

    return stuck_sessions_scan()


@shared_task(acks_late=True)
def reconnects_settled_scan_task() -> int:
    """Close reconnect alerts once the connection is stable; prune old connection records (every 5 min)."""
    from stations.alerts.jobs import attempts_prune, reconnects_settled_scan

    attempts_prune()
    return reconnects_settled_scan()


@shared_task(acks_late=True)
def notifications_retry_task() -> int:
    """Try again the notices whose retries ran out (every 30 minutes); each is sent once at most."""
    from stations.alerts.notify import notifications_unsent

    pending = notifications_unsent()
    for alert_id, event in pending:
        alert_notify_task.delay(alert_id=alert_id, event=event)
    return len(pending)
