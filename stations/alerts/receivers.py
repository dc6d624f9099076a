"""What alerts does when stations reports a change; receivers only enqueue tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from stations.alerts.detectors import fault_check_needed
from stations.alerts.domain import Attempt
from stations.alerts.tasks import alert_clear_task, attempt_record_task, connector_fault_check_task
from stations.domain import RegistrationStatus
from stations.models import Station
from stations.signals import (
    connector_status_changed,
    session_ended,
    station_boot_answered,
    station_connected,
    station_refused,
)

BOOT_OUTCOMES = {
    RegistrationStatus.ACCEPTED: Attempt.BOOT_ACCEPTED,
    RegistrationStatus.PENDING: Attempt.BOOT_PENDING,
    RegistrationStatus.REJECTED: Attempt.BOOT_REJECTED,
}


def _attempt(identity: str, station_id: int | None, outcome: Attempt, at: datetime | None) -> None:
    when = (at or timezone.now()).isoformat()
    transaction.on_commit(
        lambda: attempt_record_task.delay(identity=identity, station_id=station_id, outcome=outcome, at=when)
    )


def _identity(station_id: int) -> str:
    return Station.objects.filter(pk=station_id).values_list("identity", flat=True).get()


@receiver(connector_status_changed)
def connector_fault_check_enqueue(
    sender: Any, *, station_id: int, connector_pk: int | None, status: str, **kwargs: Any
) -> None:
    if not fault_check_needed(station_id=station_id, connector_pk=connector_pk, status=status):
        return
    transaction.on_commit(
        lambda: connector_fault_check_task.delay(station_id=station_id, connector_pk=connector_pk)
    )


@receiver(station_connected)
def connection_record_enqueue(
    sender: Any, *, station_id: int, at: datetime | None = None, **kwargs: Any
) -> None:
    _attempt(_identity(station_id), station_id, Attempt.CONNECTED, at)


@receiver(station_boot_answered)
def boot_record_enqueue(sender: Any, *, station_id: int, status: str, **kwargs: Any) -> None:
    _attempt(_identity(station_id), station_id, BOOT_OUTCOMES[RegistrationStatus(status)], None)


@receiver(station_refused)
def refusal_record_enqueue(
    sender: Any, *, identity: str, station_id: int | None, unknown: bool, **kwargs: Any
) -> None:
    outcome = Attempt.UNKNOWN_IDENTITY if unknown else Attempt.WRONG_PASSWORD
    _attempt(identity, station_id, outcome, None)


@receiver(session_ended)
def stuck_session_clear_enqueue(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    key, reason = f"stuck_session:{session_id}", "the session ended"
    transaction.on_commit(lambda: alert_clear_task.delay(key=key, reason=reason))
