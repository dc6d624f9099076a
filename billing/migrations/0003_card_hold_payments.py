"""Payments at a charger (card holds): the charger, EVSE and one-off id tag a hold is for, what came
of the remote start, and the stop asked for when the session's cost reached the hold; and the job
that watches that cost every minute."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

from stations.periodic_jobs import periodic_jobs_create


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_organizations_groups"),
        ("billing", "0002_periodic_billing_jobs"),
        ("stations", "0006_periodic_access_jobs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="evse_id",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="payment",
            name="id_token",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="accounts.idtoken",
            ),
        ),
        migrations.AddField(
            model_name="payment",
            name="start_outcome",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="payment",
            name="station",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="stations.station",
            ),
        ),
        migrations.AddField(
            model_name="payment",
            name="stop_outcome",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="payment",
            name="stop_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        periodic_jobs_create(
            [("Stop card-paid sessions at their hold", "billing.tasks.card_holds_stop_task", 60)]
        ),
    ]
