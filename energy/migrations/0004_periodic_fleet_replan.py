"""The fleet's periodic replan: every site with a fleet plugged in is planned again every 15 minutes."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("energy", "0003_periodic_rebalance"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [("Re-plan fleet charging (off-peak)", "energy.tasks_fleet.fleet_sites_replan_task", 900)]
        )
    ]
