"""Refunds credit the receipt: one credit note per refund, from the webhook's refund events, whatever
their order; a refund that fails after it was credited is reversed; a refund made before the receipt
exists is credited when the billing run issues it. Through signed webhooks and the Stripe double."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from billing.domain import InvoiceKind, InvoiceStatus, PaymentEventStatus, PaymentStatus
from billing.models import Invoice, PaymentEvent
from billing.services.invoice_pdf import document_facts
from billing.services.invoicing import invoice_issue_for_session
from billing.services.invoicing_credit import credit_note_issue
from billing.services.payments import payment_charge_saved_card, payment_refund
from billing.tasks import session_bill_task
from tests.billing.invoicing_fixtures import Scene
from tests.billing.payments_fixtures import save_card
from tests.stripe_double.fixtures import *  # noqa: F403 (the fixtures)

pytestmark = pytest.mark.django_db


def _notes() -> list[Invoice]:
    return list(Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).order_by("pk"))


@pytest.fixture
def receipted(stripe_double, stripe_api):
    """A session paid with a saved card, with its receipt."""
    scene = Scene()
    save_card(stripe_api, scene.driver)
    scene.payment = payment_charge_saved_card(session_price=scene.price)
    scene.receipt = invoice_issue_for_session(session_price=scene.price)
    scene.payment.refresh_from_db()
    assert scene.payment.status == PaymentStatus.CAPTURED and scene.payment.invoice == scene.receipt
    return scene


def test_a_credit_note_issued_again_with_its_key_is_the_same_note(receipted):
    first = credit_note_issue(
        invoice=receipted.receipt, amount=Decimal("2.40"), reason="fault", idempotency_key="staff:7"
    )
    again = credit_note_issue(
        invoice=receipted.receipt, amount=Decimal("2.40"), reason="fault", idempotency_key="staff:7"
    )
    assert again.pk == first.pk and first.idempotency_key == "staff:7"
    other = credit_note_issue(
        invoice=receipted.receipt, amount=Decimal("1.00"), reason="fault", idempotency_key="staff:8"
    )
    assert other.pk != first.pk and len(_notes()) == 2


def test_a_refund_from_the_dashboard_credits_the_receipt_once_however_often_delivered(
    receipted, stripe_double, stripe_api, post_event
):
    refund = stripe_api.v1.refunds.create(
        params={"payment_intent": receipted.payment.provider_reference, "amount": 150}
    )
    created = stripe_double.last_event("refund.created")
    assert post_event(created).status_code == 200
    assert post_event(created).status_code == 200  # the same event again
    assert post_event(stripe_double.last_event("charge.refunded")).status_code == 200
    replay = {
        **created,
        "id": created["id"] + "_again",
        "type": "refund.updated",
    }  # another event, same refund
    assert post_event(replay).status_code == 200
    (note,) = _notes()
    assert note.credit_for == receipted.receipt and note.gross == Decimal("-1.50")
    assert note.idempotency_key == refund.id
    receipted.payment.refresh_from_db()
    assert receipted.payment.status == PaymentStatus.PARTIALLY_REFUNDED

    second = stripe_api.v1.refunds.create(params={"payment_intent": receipted.payment.provider_reference})
    post_event(stripe_double.last_event("refund.created"))
    post_event(stripe_double.last_event("refund.created"))
    notes = _notes()
    assert [n.gross for n in notes] == [Decimal("-1.50"), Decimal("-4.50")]
    assert notes[1].idempotency_key == second.id


def test_a_refund_for_a_credit_note_staff_issued_is_not_credited_again(receipted, stripe_double, post_event):
    note = credit_note_issue(invoice=receipted.receipt, amount=Decimal("2.00"), reason="fault")
    payment_refund(payment=receipted.payment, amount=Decimal("2.00"), reference=note.code)
    assert post_event(stripe_double.last_event("refund.created")).status_code == 200
    assert _notes() == [note]


# --- edge cases: several refunds, events out of order, refunds that fail, refunds before the receipt -
def _settle(stripe_double, refund_id: str, status: str) -> None:
    """What the bank does with a refund later (the double's control)."""
    answer = requests.post(f"{stripe_double.url}/_double/refunds/{refund_id}/settle", data={"status": status})
    answer.raise_for_status()


def _event(stripe_double, type_: str, refund_id: str) -> dict:
    (found,) = [e for e in stripe_double.events(type_) if e["data"]["object"]["id"] == refund_id]
    return found


def _refund(stripe_api, payment, cents: int | None = None):  # type: ignore[no-untyped-def]
    params = {"payment_intent": payment.provider_reference}
    return stripe_api.v1.refunds.create(params={**params, **({"amount": cents} if cents else {})})


def _credited(receipt: Invoice) -> Decimal:
    return -sum((n.gross for n in _notes() if n.credit_for_id == receipt.pk), Decimal(0))


def test_two_refunds_whose_events_come_in_reverse_order_are_each_credited_once(
    receipted, stripe_double, stripe_api, post_event
):
    first, second = _refund(stripe_api, receipted.payment, 150), _refund(stripe_api, receipted.payment, 200)
    assert post_event(_event(stripe_double, "refund.created", second.id)).status_code == 200
    # The re-fetch shows both refunds: each gets its own note, keyed by its id.
    assert {(n.idempotency_key, n.gross) for n in _notes()} == {
        (first.id, Decimal("-1.50")),
        (second.id, Decimal("-2.00")),
    }
    for event in stripe_double.events():  # every event, the first refund's last, some twice
        post_event(event)
    post_event(_event(stripe_double, "refund.created", first.id))
    assert len(_notes()) == 2 and _credited(receipted.receipt) == Decimal("3.50")
    receipted.payment.refresh_from_db()
    assert receipted.payment.amount_refunded == Decimal("3.50")


def test_a_payment_refunded_in_full_twice_before_any_event_is_credited_per_refund_up_to_its_total(
    receipted, stripe_double, stripe_api, post_event
):
    first = _refund(stripe_api, receipted.payment, 150)
    rest = _refund(stripe_api, receipted.payment)  # what is left: 4.50
    post_event(_event(stripe_double, "refund.created", first.id))
    post_event(stripe_double.last_event("charge.refunded"))
    post_event(_event(stripe_double, "refund.created", rest.id))
    assert [(n.idempotency_key, n.gross) for n in _notes()] == [
        (first.id, Decimal("-1.50")),
        (rest.id, Decimal("-4.50")),
    ]
    assert _credited(receipted.receipt) == receipted.receipt.gross
    receipted.payment.refresh_from_db()
    assert receipted.payment.status == PaymentStatus.REFUNDED


def test_a_refund_that_fails_after_it_was_credited_is_reversed_once(
    receipted, stripe_double, stripe_api, post_event
):
    refund = _refund(stripe_api, receipted.payment, 150)
    post_event(_event(stripe_double, "refund.created", refund.id))
    (note,) = _notes()
    _settle(stripe_double, refund.id, "failed")  # the card was closed: the money came back to us
    for type_ in ("charge.refund.updated", "refund.updated", "refund.failed"):
        assert post_event(_event(stripe_double, type_, refund.id)).status_code == 200
    post_event(_event(stripe_double, "refund.created", refund.id))  # a late redelivery of the creation
    assert [n.pk for n in _notes()] == [note.pk, note.reversal.pk]
    reversal = note.reversal
    assert (reversal.credit_for, reversal.reverses, reversal.gross, reversal.tax) == (
        receipted.receipt,
        note,
        Decimal("1.50"),
        -note.tax,
    )
    assert reversal.code.startswith("CN-") and reversal.lines[0]["description"].startswith(
        f"Cancels credit note {note.code}: refund {refund.id} failed"
    )
    assert ("Cancels", note.code) in document_facts(reversal)
    # The books match the money: the receipt stands in full, nothing went back.
    assert _credited(receipted.receipt) == 0
    receipted.payment.refresh_from_db()
    receipted.receipt.refresh_from_db()
    assert (receipted.payment.status, receipted.payment.amount_refunded) == (PaymentStatus.CAPTURED, 0)
    assert receipted.receipt.status == InvoiceStatus.PAID


def test_a_refund_that_failed_before_its_event_was_handled_is_never_credited_and_the_other_is(
    receipted, stripe_double, stripe_api, post_event
):
    failed, kept = _refund(stripe_api, receipted.payment, 150), _refund(stripe_api, receipted.payment, 200)
    _settle(stripe_double, failed.id, "failed")
    post_event(_event(stripe_double, "refund.created", failed.id))
    post_event(_event(stripe_double, "refund.failed", failed.id))
    post_event(_event(stripe_double, "refund.created", kept.id))
    assert [(n.idempotency_key, n.gross) for n in _notes()] == [(kept.id, Decimal("-2.00"))]


def test_a_pending_refund_is_credited_then_reversed_when_canceled_and_kept_when_it_succeeds(
    receipted, stripe_double, stripe_api, post_event
):
    requests.post(f"{stripe_double.url}/_double/balance", data={"insufficient": "true"}).raise_for_status()
    canceled, succeeded = (
        _refund(stripe_api, receipted.payment, 100),
        _refund(stripe_api, receipted.payment, 200),
    )
    assert canceled.status == succeeded.status == "pending"
    post_event(_event(stripe_double, "refund.created", canceled.id))
    assert _credited(receipted.receipt) == Decimal("3.00")  # money on its way back is credited
    _settle(stripe_double, succeeded.id, "succeeded")
    _settle(stripe_double, canceled.id, "canceled")
    post_event(_event(stripe_double, "charge.refund.updated", succeeded.id))
    post_event(_event(stripe_double, "charge.refund.updated", canceled.id))
    post_event(_event(stripe_double, "refund.updated", canceled.id))
    by_key = {n.idempotency_key: n for n in _notes() if n.idempotency_key}
    assert set(by_key) == {canceled.id, succeeded.id}
    assert by_key[canceled.id].reversal.gross == Decimal("1.00")
    assert not hasattr(by_key[succeeded.id], "reversal")
    assert _credited(receipted.receipt) == Decimal("2.00")


def test_the_double_refuses_a_refund_transition_stripe_would_not_make(receipted, stripe_double, stripe_api):
    refund = _refund(stripe_api, receipted.payment, 100)  # succeeded at once
    answer = requests.post(
        f"{stripe_double.url}/_double/refunds/{refund.id}/settle", data={"status": "canceled"}
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "refund_unexpected_state"


@pytest.fixture
def paid_not_issued(stripe_double, stripe_api):
    """A session whose saved card was charged, and whose billing run has not issued the receipt yet."""
    scene = Scene()
    save_card(stripe_api, scene.driver)
    scene.payment = payment_charge_saved_card(session_price=scene.price)
    assert scene.payment.status == PaymentStatus.CAPTURED and not Invoice.objects.exists()
    return scene


def test_a_refund_before_the_receipt_exists_is_credited_when_the_billing_run_issues_it(
    paid_not_issued, stripe_double, stripe_api, post_event, django_capture_on_commit_callbacks
):
    refund = _refund(stripe_api, paid_not_issued.payment, 250)
    assert post_event(_event(stripe_double, "refund.created", refund.id)).status_code == 200
    assert PaymentEvent.objects.get(event_type="refund.created").status == PaymentEventStatus.HANDLED
    assert not Invoice.objects.exists()  # nothing to credit yet, and nothing lost
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": paid_not_issued.session.pk})
        session_bill_task.apply(kwargs={"session_id": paid_not_issued.session.pk})
    receipt = Invoice.objects.get(kind=InvoiceKind.RECEIPT)
    assert (receipt.gross, receipt.status) == (Decimal("6.00"), InvoiceStatus.PAID)
    assert [(n.credit_for, n.idempotency_key, n.gross) for n in _notes()] == [
        (receipt, refund.id, Decimal("-2.50"))
    ]
    post_event(stripe_double.last_event("charge.refunded"))  # arriving after the run: no second note
    assert len(_notes()) == 1


def test_a_refund_that_failed_before_the_receipt_exists_credits_nothing(
    paid_not_issued, stripe_double, stripe_api, post_event, django_capture_on_commit_callbacks
):
    refund = _refund(stripe_api, paid_not_issued.payment, 250)
    post_event(_event(stripe_double, "refund.created", refund.id))
    _settle(stripe_double, refund.id, "failed")
    post_event(_event(stripe_double, "refund.failed", refund.id))
    with django_capture_on_commit_callbacks(execute=True):
        session_bill_task.apply(kwargs={"session_id": paid_not_issued.session.pk})
    assert Invoice.objects.get().kind == InvoiceKind.RECEIPT and _notes() == []
