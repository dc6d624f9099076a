from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_payment_guest_email"),
    ]

    operations = [
        migrations.AddField(
            model_name="tariff",
            name="idle_from_suspended_ev",
            field=models.BooleanField(
                default=False,
                help_text="Idle time starts when the car stops taking energy (the charger reports "
                "SuspendedEV) while the session is still open, rather than when the charger ends charging.",
                verbose_name="Idle from SuspendedEV",
            ),
        ),
    ]
