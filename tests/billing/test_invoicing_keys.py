"""Credit notes' idempotency keys: a column of their own, staff forms that issue one note however often
they are submitted, and the migration that moved the keys out of the notes' lines."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from accounts.domain import Role
from billing.domain import InvoiceKind
from billing.models import Invoice
from billing.services.invoicing import invoice_issue_for_session
from billing.services.invoicing_credit import credit_note_for_key, credit_note_issue
from tests.billing.invoicing_fixtures import Scene, paid
from tests.factories import MembershipFactory

TOKEN = re.compile(r'<input type="hidden" name="token" value="([0-9a-f-]{36})"')


@pytest.fixture
def receipt(db) -> Invoice:
    scene = Scene()
    paid(scene.price)
    return invoice_issue_for_session(session_price=scene.price)


def _notes() -> list[Invoice]:
    return list(Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).order_by("pk"))


def test_a_staff_credit_note_submitted_twice_is_issued_once(client: Client, receipt: Invoice) -> None:
    client.force_login(MembershipFactory(organization=receipt.organization, role=Role.MANAGER).user)
    url = reverse("admin:billing_invoice_credit_note", args=[receipt.pk])
    (token,) = TOKEN.findall(client.get(url).content.decode())
    data = {"amount": "2.00", "reason": "charger fault", "token": token}
    first, second = client.post(url, data), client.post(url, data)  # a double click
    (note,) = _notes()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("admin:billing_invoice_change", args=[note.pk])
    assert note.gross == Decimal("-2.00") and note.idempotency_key == f"staff:{token.replace('-', '')}"

    (other,) = TOKEN.findall(client.get(url).content.decode())  # a new form is a new note
    assert other != token
    client.post(url, {**data, "token": other})
    assert [n.gross for n in _notes()] == [Decimal("-2.00"), Decimal("-2.00")]


def test_a_staff_credit_note_without_its_form_token_is_refused(client: Client, receipt: Invoice) -> None:
    client.force_login(MembershipFactory(organization=receipt.organization, role=Role.MANAGER).user)
    url = reverse("admin:billing_invoice_credit_note", args=[receipt.pk])
    page = client.post(url, {"amount": "2.00", "reason": "charger fault"})
    assert page.status_code == 200 and "This field is required" in page.content.decode()
    assert _notes() == []


def test_a_key_that_credited_one_document_does_not_credit_another(receipt: Invoice) -> None:
    note = credit_note_issue(invoice=receipt, amount=Decimal("1"), reason="fault", idempotency_key="re_1")
    assert credit_note_for_key("re_1") == note and credit_note_for_key("re_2") is None
    scene = Scene(email="other@example.com", operator_name="Other")
    paid(scene.price)
    other = invoice_issue_for_session(session_price=scene.price)
    with pytest.raises(ValidationError, match="credited another document"):
        credit_note_issue(invoice=other, amount=Decimal("1"), reason="fault", idempotency_key="re_1")


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_keys_from_the_first_line_to_the_column() -> None:
    before, after = (
        [("billing", "0003_card_hold_payments")],
        [("billing", "0004_invoice_idempotency_key_reversal_paid")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        scene = Scene()
        series = apps.get_model("billing", "InvoiceSeries").objects.create(
            organization_id=scene.operator.pk, kind="credit_note", prefix="CN-"
        )
        old = apps.get_model("billing", "Invoice")
        line = {
            "description": "Credit",
            "quantity": "1",
            "unit": "",
            "unit_price": "-1.00",
            "amount": "-1.00",
        }
        common = {
            "series": series,
            "kind": "credit_note",
            "organization_id": scene.operator.pk,
            "issued_at": scene.session.stopped_at,
            "currency": "EUR",
            "net": -1,
            "tax": 0,
            "gross": -1,
        }
        keyed = old.objects.create(number=1, code="CN-1", lines=[{**line, "reference": "re_9"}], **common)
        plain = old.objects.create(number=2, code="CN-2", lines=[line], **common)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        keyed_now, plain_now = Invoice.objects.get(pk=keyed.pk), Invoice.objects.get(pk=plain.pk)
        assert keyed_now.idempotency_key == "re_9" and keyed_now.lines == [line]
        assert plain_now.idempotency_key is None and plain_now.lines == [line]
        assert credit_note_for_key("re_9") == keyed_now
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
