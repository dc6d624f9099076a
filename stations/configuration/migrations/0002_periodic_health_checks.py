"""The health checks as periodic jobs: heartbeat interval and drift hourly, firmware daily."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("configuration", "0001_profiles_snapshots_checks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [
                ("Health check: heartbeat interval", "stations.configuration.tasks.heartbeat_check_task", 3600),
                ("Health check: configuration drift", "stations.configuration.tasks.drift_check_task", 3600),
                ("Health check: firmware behind standard", "stations.configuration.tasks.firmware_check_task", 86400),
            ]
        )
    ]
