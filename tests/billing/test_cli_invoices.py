"""`manage.py invoices`: generate (twice issues once), resend, export as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.core import mail

from billing.models import Invoice
from billing.services.invoicing import invoice_issue_for_session
from tests.billing.invoicing_fixtures import Scene, ended_session, paid, price_of
from tests.cli import command_error, command_output

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_generate_one_session_twice_issues_and_mails_once(django_capture_on_commit_callbacks) -> None:
    scene = Scene()
    with django_capture_on_commit_callbacks(execute=True):  # the mail is enqueued after the commit
        first = command_output("invoices", "generate", "--session", str(scene.session.pk))
        second = command_output("invoices", "generate", "--session", str(scene.session.pk))
    code = Invoice.objects.get().code
    assert first == second == f"session {scene.session.pk}: Invoice {code}\n"
    assert len(mail.outbox) == 1
    assert command_error("invoices", "generate", "--session", "999999").returncode == 2


def test_generate_since_a_day_bills_what_is_not_billed() -> None:
    scene = Scene()
    older = ended_session(
        station=scene.station, token=scene.token, stopped_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    price_of(older)
    unpriced = ended_session(station=scene.station, token=scene.token)
    output = command_output("invoices", "generate", "--since", "2026-01-01")
    assert f"session {scene.session.pk}: Invoice" in output
    assert f"session {unpriced.pk}: nothing to issue yet" in output
    assert str(older.pk) not in output.split(":")[0]
    assert Invoice.objects.count() == 1
    assert "session" not in command_output("invoices", "generate", "--since", "2026-01-01").replace(
        f"session {unpriced.pk}: nothing to issue yet", ""
    )
    assert command_error("invoices", "generate", "--since", "yesterday").returncode == 2


def test_resend_mails_again() -> None:
    scene = Scene()
    invoice = invoice_issue_for_session(session_price=scene.price)
    assert command_output("invoices", "resend", invoice.code) == f"{invoice.code} sent.\n"
    assert command_output("invoices", "resend", invoice.code) == f"{invoice.code} sent.\n"
    assert len(mail.outbox) == 2
    assert command_error("invoices", "resend", "NOPE-1").returncode == 2


def test_export_a_period_as_csv_and_json() -> None:
    ours = Scene(operator_name="Ours")
    theirs = Scene(email="t@example.com", operator_name="Theirs")
    paid(ours.price)
    receipt = invoice_issue_for_session(session_price=ours.price)
    invoice_issue_for_session(session_price=theirs.price)
    Invoice.objects.filter(pk=receipt.pk).update(issued_at=datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    output = command_output("invoices", "export", "--from", "2026-03-01", "--to", "2026-03-31")
    (row,) = csv.DictReader(io.StringIO(output))
    assert (row["code"], row["kind"], row["gross"], row["customer"]) == (
        receipt.code,
        "receipt",
        "6.00",
        "driver@example.com",
    )
    everything = command_output(
        "invoices", "export", "--from", "2026-01-01", "--to", "2099-12-31", "--format", "json"
    )
    assert len(json.loads(everything)) == 2
    theirs_only = command_output(
        "invoices",
        "export",
        "--from",
        "2026-01-01",
        "--to",
        "2099-12-31",
        "--organization",
        "Theirs",
        "--format",
        "json",
    )
    assert [r["organization"] for r in json.loads(theirs_only)] == ["Theirs"]
    assert command_error("invoices", "export", "--from", "2026-03-02", "--to", "2026-03-01").returncode == 2
    assert (
        command_error(
            "invoices", "export", "--from", "2026-03-01", "--to", "2026-03-02", "--organization", "Nobody"
        ).returncode
        == 2
    )
