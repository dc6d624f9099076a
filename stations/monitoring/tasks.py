from __future__ import annotations

from celery import shared_task


@shared_task
def connection_periods_reconcile_task() -> tuple[int, int]:
    from stations.monitoring.services.history import connection_periods_reconcile

    return connection_periods_reconcile()
