"""Open, update and close alerts. Every detector and every other app goes through these two calls.

`alert_raise` is idempotent per key: while an alert with the key is open, a repeated report updates it
(evidence merged, last_seen_at, count) and notifies nobody again; once closed, the next report opens a
new alert, notified once. Notices go out from a Celery task after the commit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from stations.alerts.domain import AlertKind, NotificationEvent, Severity
from stations.alerts.models import Alert
from stations.models import Site, Station

EVIDENCE_HISTORY = 20  # repeated reports kept in evidence["reports"], newest last


def alert_raise(
    *,
    kind: str,
    key: str,
    summary: str,
    evidence: dict[str, Any],
    station: Station | None = None,
    site: Site | None = None,
    evse_id: int | None = None,
    severity: str = Severity.WARNING,
) -> Alert:
    """Open the alert named by `key`, or update the open one (notified only when it opens)."""
    AlertKind(kind), Severity(severity)  # noqa: B018  (a bad value is a ValueError here, not a bad row)
    if site is None and station is not None:
        site = station.site
    for _ in range(3):  # a concurrent raise of the same key may win the insert: update theirs then
        try:
            with transaction.atomic():
                return _alert_raise(kind, key, summary, evidence, station, site, evse_id, severity)
        except IntegrityError:
            continue
    raise RuntimeError(f"alert {key!r} could not be raised")


def _alert_raise(
    kind: str,
    key: str,
    summary: str,
    evidence: dict[str, Any],
    station: Station | None,
    site: Site | None,
    evse_id: int | None,
    severity: str,
) -> Alert:
    now, summary = timezone.now(), summary[:300]
    alert = Alert.objects.select_for_update().open().filter(key=key).first()
    if alert is not None:
        reports = [*alert.evidence.get("reports", []), {"at": now.isoformat(), **evidence}]
        alert.evidence = {**alert.evidence, **evidence, "reports": reports[-EVIDENCE_HISTORY:]}
        alert.summary, alert.severity, alert.last_seen_at = summary, severity, now
        alert.count += 1
        alert.save(update_fields=["evidence", "summary", "severity", "last_seen_at", "count"])
        return alert
    alert = Alert.objects.create(
        kind=kind,
        key=key,
        severity=severity,
        station=station,
        site=site,
        evse_id=evse_id,
        summary=summary,
        evidence=evidence,
        opened_at=now,
        last_seen_at=now,
    )
    _notify_on_commit(alert.pk, NotificationEvent.OPENED)
    return alert


def alert_clear(*, key: str, reason: str) -> bool:
    """Close the open alert with this key; True if one was open."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().open().filter(key=key).first()
        if alert is None:
            return False
        _close(alert, reason)
    return True


def alert_close(*, alert: Alert, reason: str) -> bool:
    """Close an alert by hand (the admin); False if it was closed already."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.closed_at is not None:
            return False
        _close(alert, reason)
    return True


def alert_acknowledge(*, alert: Alert, user: Any) -> bool:
    """Record who has taken the alert in hand; False if someone had already."""
    return bool(
        Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_by=user, acknowledged_at=timezone.now()
        )
    )


def alert_is_open(*, key: str) -> bool:
    return Alert.objects.open().filter(key=key).exists()


def _close(alert: Alert, reason: str) -> None:
    alert.closed_at, alert.close_reason = timezone.now(), reason[:300]
    alert.save(update_fields=["closed_at", "close_reason"])
    if settings.CSMS_ALERT_NOTIFY_CLOSED:
        _notify_on_commit(alert.pk, NotificationEvent.CLOSED)


def _notify_on_commit(alert_id: int, event: str) -> None:
    from stations.alerts.tasks import alert_notify_task  # the task module imports the services

    transaction.on_commit(lambda: alert_notify_task.delay(alert_id=alert_id, event=event))
