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
