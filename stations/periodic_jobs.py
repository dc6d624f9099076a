"""Create periodic jobs from data migrations once; afterwards staff edit or pause them in the admin."""

from __future__ import annotations

from django.db import migrations

# (name, dotted task path, every N seconds)
Job = tuple[str, str, int]


def periodic_jobs_create(jobs: list[Job]) -> migrations.RunPython:
    """A migration operation creating the jobs, and deleting them when migrated backwards."""

    def create(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for name, task, seconds in jobs:
            schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
            PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": schedule})

    def delete(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        names = [name for name, _, _ in jobs]
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()

    return migrations.RunPython(create, delete)
