"""Create the gateway's periodic jobs once; afterwards staff edit or pause them in the admin."""

from __future__ import annotations

from django.db import migrations

JOBS = [
    # (name, task, every N seconds)
    ("Mark silent chargers offline", "stations.tasks.station_mark_offline_overdue_task", 60),
    ("Prune the OCPP frame journal", "stations.tasks.frames_prune_task", 3600),
]


def create_jobs(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in JOBS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": schedule})


def delete_jobs(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[j[0] for j in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("stations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_jobs, delete_jobs)]
