"""The job that moves firmware campaigns along; staff may change its interval in the admin."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("firmware", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [("Advance firmware campaigns", "stations.firmware.tasks.firmware_campaigns_advance_task", 30)]
        )
    ]
