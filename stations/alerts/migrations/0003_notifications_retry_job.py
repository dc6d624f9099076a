"""Periodic job of alerts: try again, every 30 minutes, the notices whose retries ran out."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [("alerts", "0002_alert_jobs")]

    operations = [
        periodic_jobs_create(
            [("Retry alert notices that failed", "stations.alerts.tasks.notifications_retry_task", 1800)]
        )
    ]
