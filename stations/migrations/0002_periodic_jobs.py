"""The gateway's periodic jobs: offline detection and journal retention."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("stations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [
                ("Mark silent chargers offline", "stations.tasks.station_mark_offline_overdue_task", 60),
                ("Prune the OCPP frame journal", "stations.tasks.frames_prune_task", 3600),
            ]
        )
    ]
