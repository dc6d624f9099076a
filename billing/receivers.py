"""What billing does when other apps report a change; receivers only enqueue tasks."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from billing.tasks import session_bill_task
from stations.signals import session_ended


@receiver(session_ended)
def session_bill_enqueue(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    """Bill a session once it has ended (the signal is sent after the stop commits)."""
    transaction.on_commit(lambda: session_bill_task.delay(session_id=session_id))
