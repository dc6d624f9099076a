"""Periodic job of billing: bill the sessions whose wait for the car's unplug is over, every 5 minutes."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_tariff_idle_from_suspended_ev"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [
                (
                    "Bill sessions whose wait for the unplug is over",
                    "billing.tasks.sessions_unplug_wait_over_task",
                    300,
                )
            ]
        )
    ]
