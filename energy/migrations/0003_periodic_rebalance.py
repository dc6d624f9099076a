"""The balancer's periodic safety net: every site that balances is recomputed every minute."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("energy", "0002_allocation_defaults_wanted"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [("Rebalance every site (safety net)", "energy.tasks.sites_rebalance_task", 60)]
        )
    ]
