"""Periodic jobs of billing: payment retries every 5 minutes, a daily check for monthly statements."""

from __future__ import annotations

from django.db import migrations

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_tariffs_payments_invoices"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_jobs_create(
            [
                ("Retry failed session payments", "billing.tasks.payments_retry_task", 300),
                ("Issue last month's fleet statements", "billing.tasks.statements_monthly_task", 86400),
            ]
        )
    ]
