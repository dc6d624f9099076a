"""Periodic jobs of access control: limits enforced every minute, local lists kept in sync."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("stations", "0005_access_rules_local_lists"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [
                ("Stop sessions past their access limit", "stations.tasks.sessions_stop_over_limit_task", 60),
                ("Sync chargers' local authorization lists", "stations.tasks.local_lists_sync_task", 900),
            ]
        )
    ]
