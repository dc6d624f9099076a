"""Billing tasks: run twice (or again after a crash), they issue, charge and mail once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import OrganizationKind
from billing.domain import InvoiceKind, InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import Invoice, Payment, SavedPaymentMethod
from billing.services.billing_run import RETRY_MAX_ATTEMPTS, last_month, payments_due, retry_delay
from billing.services.invoicing import invoice_issue_for_session
from billing.tasks import invoice_email_task, session_bill_task, statements_monthly_task
from stations.domain import StopReason
from stations.models import ChargingSession
from stations.services.sessions import session_stop
from tests.billing.invoicing_fixtures import Scene, ended_session, paid, price_of
from tests.factories import IdTokenFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


def saved_card(scene: Scene) -> SavedPaymentMethod:
    return SavedPaymentMethod.objects.create(
        user=scene.driver,
        provider_payment_method_id=f"pm_{scene.driver.pk}",
        brand="visa",
        last4="4242",
        is_default=True,
    )


def test_a_card_paid_session_billed_twice_gets_one_receipt_and_one_mail(
    django_capture_on_commit_callbacks,
) -> None:
    scene = Scene()
    saved_card(scene)
    paid(scene.price)  # the capture happened: billing again must not charge the card again
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.delay(session_id=scene.session.pk)
        session_bill_task.delay(session_id=scene.session.pk)
    receipt = Invoice.objects.get()
    assert (receipt.kind, receipt.status) == (InvoiceKind.RECEIPT, InvoiceStatus.PAID)
    assert Payment.objects.count() == 1
    assert len(mail.outbox) == 1 and receipt.code in mail.outbox[0].subject


def test_a_driver_without_a_card_gets_an_open_invoice_once(django_capture_on_commit_callbacks) -> None:
    scene = Scene()
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": scene.session.pk})
        session_bill_task.apply(kwargs={"session_id": scene.session.pk})
    invoice = Invoice.objects.get()
    assert (invoice.kind, invoice.status) == (InvoiceKind.INVOICE, InvoiceStatus.OPEN)
    assert len(mail.outbox) == 1


def test_a_run_that_crashed_before_mailing_mails_on_the_next_run(django_capture_on_commit_callbacks) -> None:
    scene = Scene()
    invoice_issue_for_session(session_price=scene.price)  # the worker died right after this step
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.delay(session_id=scene.session.pk)
        session_bill_task.delay(session_id=scene.session.pk)
    assert Invoice.objects.count() == 1
    assert len(mail.outbox) == 1


def test_nothing_is_billed_for_open_free_or_anonymous_sessions(django_capture_on_commit_callbacks) -> None:
    scene = Scene()
    open_session = ended_session(station=scene.station, token=scene.token)
    ChargingSession.objects.filter(pk=open_session.pk).update(stopped_at=None)
    price_of(open_session)
    free = ended_session(station=scene.station, token=scene.token)
    price_of(free, gross="0.00")
    with django_capture_on_commit_callbacks(execute=True):
        for session in (open_session, free):
            session_bill_task.delay(session_id=session.pk)
    assert not Invoice.objects.exists() and mail.outbox == []


def test_a_fleet_card_is_billed_on_account_even_if_its_holder_saved_a_card(
    django_capture_on_commit_callbacks,
) -> None:
    scene = Scene()
    saved_card(scene)
    fleet = OrganizationFactory(kind=OrganizationKind.FLEET)
    card = IdTokenFactory(organization=fleet, owner=scene.driver)
    session = ended_session(station=scene.station, token=card)
    price_of(session)
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.delay(session_id=session.pk)
    invoice = Invoice.objects.get()
    assert invoice.kind == InvoiceKind.INVOICE and invoice.customer_organization == fleet
    assert not Payment.objects.exists()


def test_the_end_of_a_session_enqueues_its_billing(django_capture_on_commit_callbacks) -> None:
    scene = Scene()
    session = ended_session(station=scene.station, token=scene.token)
    ChargingSession.objects.filter(pk=session.pk).update(stopped_at=None, external_id="77")
    price_of(session)  # as the pricing service leaves it
    with django_capture_on_commit_callbacks(execute=True):
        session_stop(
            station_id=scene.station.pk,
            external_id="77",
            meter_stop_wh=20_000,
            stopped_at=timezone.now(),
            reason=StopReason.LOCAL,
        )
    assert Invoice.objects.filter(session=session).count() == 1
    assert len(mail.outbox) == 1


def test_the_mail_task_twice_mails_once(django_capture_on_commit_callbacks) -> None:
    scene = Scene()
    invoice = invoice_issue_for_session(session_price=scene.price)
    invoice_email_task.delay(invoice_id=invoice.pk)
    invoice_email_task.delay(invoice_id=invoice.pk)
    assert len(mail.outbox) == 1


def test_monthly_statements_on_the_first_days_only_and_once(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    scene = Scene()
    fleet = OrganizationFactory(kind=OrganizationKind.FLEET)
    MembershipFactory(organization=fleet, user__email="boss@fleet.example")
    card = IdTokenFactory(organization=fleet)
    price_of(ended_session(station=scene.station, token=card, stopped_at=datetime(2026, 2, 14, tzinfo=UTC)))
    price_of(ended_session(station=scene.station, token=card, stopped_at=datetime(2026, 3, 2, tzinfo=UTC)))

    today = {"value": date(2026, 3, 10)}
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: today["value"])
    assert statements_monthly_task.delay().get() == 0  # not the first days of a month
    today["value"] = date(2026, 3, 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert statements_monthly_task.delay().get() == 1
        assert statements_monthly_task.delay().get() == 1  # the same statement, found
    statement = Invoice.objects.get(kind=InvoiceKind.STATEMENT)
    assert (statement.period_start, statement.period_end) == last_month(date(2026, 3, 2))
    assert len(statement.lines) == 1
    assert [m.to for m in mail.outbox] == [["boss@fleet.example"]]


def test_last_month_crosses_the_year() -> None:
    start, end = last_month(date(2027, 1, 1))
    assert (start.year, start.month, start.day, end.year, end.month) == (2026, 12, 1, 2027, 1)


def test_retry_delays_double() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=4)]


def test_only_due_unpaid_payments_are_retried() -> None:
    scene = Scene()
    now = timezone.now()

    def payment(status: PaymentStatus, next_attempt_at: datetime | None) -> Payment:
        return Payment.objects.create(
            session=scene.session,
            method=PaymentMethodKind.SAVED_CARD,
            status=status,
            currency="EUR",
            next_attempt_at=next_attempt_at,
        )

    due = payment(PaymentStatus.FAILED, now - timedelta(minutes=1))
    payment(PaymentStatus.FAILED, now + timedelta(minutes=1))
    payment(PaymentStatus.FAILED, None)  # given up
    payment(PaymentStatus.CAPTURED, now - timedelta(minutes=1))
    assert payments_due(now=now) == [due.pk]


def test_retries_give_up_with_an_open_invoice(django_capture_on_commit_callbacks) -> None:
    pytest.importorskip("billing.services.payments", reason="the payment service has not landed yet")
    from billing.services.billing_run import payment_retry

    scene = Scene()
    saved_card(scene)
    failed = Payment.objects.create(
        session=scene.session,
        user=scene.driver,
        method=PaymentMethodKind.SAVED_CARD,
        status=PaymentStatus.FAILED,
        currency="EUR",
        attempts=RETRY_MAX_ATTEMPTS - 1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        payment_retry(payment_id=failed.pk)
        payment_retry(payment_id=failed.pk)  # no longer due: nothing happens
    failed.refresh_from_db()
    assert failed.next_attempt_at is None
    assert Invoice.objects.filter(session=scene.session).count() == 1


def test_a_pending_payment_is_asked_again_with_the_same_attempt() -> None:
    pytest.importorskip("billing.services.payments", reason="the payment service has not landed yet")
    from billing.services.billing_run import payment_retry

    scene = Scene()
    pending = Payment.objects.create(
        session=scene.session,
        user=scene.driver,
        method=PaymentMethodKind.SAVED_CARD,
        status=PaymentStatus.PENDING,
        currency="EUR",
        attempts=1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    assert payment_retry(payment_id=pending.pk) is None
    pending.refresh_from_db()
    # The same attempt number keeps the provider's idempotency key: a charge that went through is replayed.
    assert pending.attempts == 1
    assert pending.next_attempt_at > timezone.now()
    assert not Invoice.objects.exists()
