"""Monitoring's periodic job: keep the connection history in line with the chargers' online flags."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [
                (
                    "Reconcile the connection history",
                    "stations.monitoring.tasks.connection_periods_reconcile_task",
                    60,
                )
            ]
        )
    ]
