"""What billing does when other apps report a change; receivers only enqueue tasks."""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from billing.tasks import session_bill_task
from stations.signals import connector_unplugged, session_ended


@receiver(session_ended)
def session_bill_enqueue(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    """Bill a session once it has ended (the signal is sent after the stop commits)."""
    transaction.on_commit(lambda: session_bill_task.delay(session_id=session_id))


@receiver(connector_unplugged)
def unplugged_sessions_bill_enqueue(sender: Any, *, connector_pk: int, **kwargs: Any) -> None:
    """Bill the connector's sessions that waited for the car's unplug to price their idle time.

    Every Available a charger reports comes here: one query picks the few sessions worth a task."""
    from billing.services.unplug_wait import sessions_awaiting_unplug

    for session_id in sessions_awaiting_unplug(connector_pk=connector_pk):
        transaction.on_commit(functools.partial(session_bill_task.delay, session_id=session_id))
