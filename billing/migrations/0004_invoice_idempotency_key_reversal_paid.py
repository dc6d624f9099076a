"""Invoices get a column for their idempotency key (a credit note's refund id or staff form token,
until now kept on the note's first line as `reference`), the credit note a reversal cancels, and
when and how an invoice was paid outside the card provider."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def keys_from_lines(apps: Any, schema_editor: Any) -> None:
    """Move each credit note's key from its first line's `reference` to the column (first note wins)."""
    Invoice = apps.get_model("billing", "Invoice")
    taken: set[str] = set()
    for note in Invoice.objects.filter(kind="credit_note").order_by("pk").iterator():
        lines = note.lines or []
        key = lines[0].pop("reference", None) if lines and isinstance(lines[0], dict) else None
        if not key:
            continue
        if key not in taken:
            taken.add(key)
            note.idempotency_key = key
        note.save(update_fields=["idempotency_key", "lines"])


def keys_to_lines(apps: Any, schema_editor: Any) -> None:
    Invoice = apps.get_model("billing", "Invoice")
    for note in Invoice.objects.filter(idempotency_key__isnull=False).iterator():
        if note.kind == "credit_note" and note.lines:
            note.lines[0]["reference"] = note.idempotency_key
            note.save(update_fields=["lines"])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_card_hold_payments"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=100, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="invoice",
            name="paid_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="invoice",
            name="payment_reference",
            field=models.CharField(
                blank=True, help_text="How an invoice was paid outside the card provider.", max_length=100
            ),
        ),
        migrations.AddField(
            model_name="invoice",
            name="reverses",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reversal",
                to="billing.invoice",
            ),
        ),
        migrations.RunPython(keys_from_lines, keys_to_lines),
    ]
