"""Periodic jobs of alerts: chargers offline too long (every minute), stuck sessions and settled
reconnect storms (every 5 minutes)."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [
                ("Alert on chargers offline too long", "stations.alerts.tasks.offline_scan_task", 60),
                (
                    "Alert on sessions charging without progress",
                    "stations.alerts.tasks.stuck_sessions_scan_task",
                    300,
                ),
                (
                    "Close settled reconnect alerts and prune connection records",
                    "stations.alerts.tasks.reconnects_settled_scan_task",
                    300,
                ),
            ]
        )
    ]
