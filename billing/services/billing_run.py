"""Billing a session after it ends: price, charge the saved card, issue the document, mail it.

Each step is idempotent and commits on its own, so a run that crashed half way and is run again
continues where it stopped: the price, the payment and the document are found, not made twice.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import IdToken, IdTokenStatus, Organization, OrganizationKind
from billing.domain import PaymentStatus
from billing.models import Invoice, Payment, SavedPaymentMethod, SessionPrice
from billing.services.invoicing import (
    PAID_STATUSES,
    invoice_for_session,
    invoice_issue_for_session,
    invoice_issue_split_for_session,
)
from billing.services.invoicing_statements import statement_issue
from billing.services.payment_refunds import payment_refunds_sync
from stations.models import ChargingSession

# Payment retries: after 1 h, 2 h, 4 h, ... then give up and leave an open invoice for the driver.
RETRY_FIRST_S = 3600
RETRY_MAX_ATTEMPTS = 5
# A payment left pending by an unreachable provider is asked again after as long as it has waited.
PENDING_MIN, PENDING_MAX = timedelta(minutes=5), timedelta(days=1)
# Statements for last month are issued on the first days of a month (a day's grace for late stops).
STATEMENT_DAYS = 3


def retry_delay(attempts: int) -> timedelta:
    """How long to wait before the next try after `attempts` failed ones."""
    return timedelta(seconds=RETRY_FIRST_S * 2 ** max(attempts - 1, 0))


def _has_saved_card(session: ChargingSession) -> bool:
    token = session.id_token
    if token is None or token.owner_id is None:
        return False
    if token.organization is not None and token.organization.kind == OrganizationKind.FLEET:
        return False  # a fleet's card is billed on account, whoever holds it
    return SavedPaymentMethod.objects.filter(
        user_id=token.owner_id, is_default=True, removed_at__isnull=True
    ).exists()


def _price(session: ChargingSession) -> SessionPrice | None:
    if (price := SessionPrice.objects.filter(session=session).first()) is not None:
        return price
    from billing.services.pricing import session_price

    return session_price(session=session)


def _payment_for(session: ChargingSession) -> Payment | None:
    return Payment.objects.filter(session=session).order_by("-created_at", "-pk").first()


def _charge(price: SessionPrice) -> Payment:
    """Charge the driver's saved card once; a payment already captured is not charged again."""
    # Refunded since (before the document was issued) still counts as paid: refunds are credit notes.
    captured = Payment.objects.filter(session_id=price.session_id, status__in=PAID_STATUSES).first()
    if captured is not None:
        return captured
    from billing.services.payments import payment_charge_saved_card

    return payment_charge_saved_card(session_price=price)


def _retry_schedule(session: ChargingSession) -> None:
    """Mark the session's unpaid payment for the retry job, unless it is scheduled or given up."""
    payment = _payment_for(session)
    if payment is None or payment.status not in (PaymentStatus.FAILED, PaymentStatus.PENDING):
        return
    if payment.next_attempt_at is None and payment.attempts < RETRY_MAX_ATTEMPTS:
        payment.next_attempt_at = timezone.now() + retry_delay(max(payment.attempts, 1))
        payment.save(update_fields=["next_attempt_at", "updated_at"])


def _issue_and_mail(price: SessionPrice) -> Invoice:
    invoice = invoice_issue_for_session(session_price=price)
    assert invoice.session is not None  # a session's document
    payment_refunds_sync(session=invoice.session)  # refunds made before the document existed
    if invoice.emailed_at is None:
        from billing.tasks import invoice_email_task

        invoice_id = invoice.pk
        transaction.on_commit(lambda: invoice_email_task.delay(invoice_id=invoice_id))
    return invoice


def session_bill(*, session_id: int, unplug_wait: bool = True) -> Invoice | None:
    """Price an ended session, charge the driver's saved card (or capture the hold it was paid for at
    the charger), then issue and mail the document.

    Fleet cards and drivers without a saved card are billed on account (an open invoice). A card
    payment that failed leaves the session without a document until a retry succeeds or gives up.
    A session whose idle fee depends on an unplug not reported yet is left for later
    (billing/services/unplug_wait.py), unless `unplug_wait` is False: then idle time ends as far as
    the charger vouched for it.
    Returns the document, or None while there is none (not ended, waiting, free, unpriced or unpaid)."""
    session = ChargingSession.objects.select_related(
        "station__site__organization", "id_token__owner", "id_token__organization"
    ).get(pk=session_id)
    if session.stopped_at is None or session.id_token is None:
        return None
    from billing.services.card_hold import card_hold_for_session
    from billing.services.unplug_wait import session_unplug_wait_until

    hold = card_hold_for_session(session=session)
    if unplug_wait and session_unplug_wait_until(session, card_hold=hold is not None) is not None:
        if hold is not None and hold.id_token_id is not None:  # the one-off tag starts nothing more
            IdToken.objects.filter(pk=hold.id_token_id).update(status=IdTokenStatus.BLOCKED)
        return None
    if hold is not None:
        return _bill_card_hold(session, hold)
    return _bill_saved_card_or_account(session)


def _bill_saved_card_or_account(session: ChargingSession) -> Invoice | None:
    if invoice_for_session(session) is not None:
        return _issue_and_mail(SessionPrice.objects.get(session=session))
    price = _price(session)
    if price is None or price.gross <= 0:
        return None
    if _has_saved_card(session):
        from billing.payments.base import ProviderUnavailable

        try:
            payment = _charge(price)
        except ProviderUnavailable:
            _retry_schedule(session)
            raise
        if payment.status not in PAID_STATUSES:
            _retry_schedule(session)
            return None
    return _issue_and_mail(price)


# --- sessions paid by card at the charger (billing/services/card_hold.py) ---------------------------
def _bill_card_hold(session: ChargingSession, hold: Payment) -> Invoice | None:
    """Capture the price from the session's hold (release it when there is nothing to pay), then issue
    the receipt. A hold that lapsed before the capture leaves the session billed like one on account:
    the saved default card charged if the driver has one, else an open invoice."""
    from billing.services.card_hold import card_hold_settle
    from billing.services.payments import PAID

    price = _price(session)
    hold = card_hold_settle(payment=hold, price=price)
    if price is None or price.gross <= 0:
        return None
    if hold.status not in PAID:
        return _bill_saved_card_or_account(session)
    if hold.amount_captured >= price.gross:
        return _issue_and_mail(price)
    return _bill_above_hold(price, hold)


def _bill_above_hold(price: SessionPrice, hold: Payment) -> Invoice:
    """The session cost more than its hold (the stop at the hold failed or came late): charge the rest
    to the driver's saved default card and issue one receipt, or, without a card or when it is
    declined, a receipt for what the hold paid and an open invoice for the rest."""
    from billing.services.card_hold import card_hold_rest_charge, card_hold_rest_note
    from billing.services.pricing import money_round

    rest = price.gross - hold.amount_captured
    shown = f"{money_round(rest, price.currency)} {price.currency}"
    charge = card_hold_rest_charge(hold=hold, price=price)
    if charge is not None and charge.status in PAID_STATUSES:
        card_hold_rest_note(hold=hold, note=f"Cost above the hold: {shown} charged to the saved card.")
        return _issue_and_mail(price)
    receipt, invoice = invoice_issue_split_for_session(session_price=price, paid=hold.amount_captured)
    assert receipt.session is not None  # a session's document
    payment_refunds_sync(session=receipt.session)
    card_hold_rest_note(hold=hold, note=f"Cost above the hold: {shown} left open on {invoice.code}.")
    for document in (receipt, invoice):
        if document.emailed_at is None:
            from billing.tasks import invoice_email_task

            transaction.on_commit(functools.partial(invoice_email_task.delay, invoice_id=document.pk))
    return receipt


def payments_due(*, now: datetime | None = None) -> list[int]:
    """The ids of unpaid session payments whose next try is due."""
    return list(
        Payment.objects.filter(
            status__in=[PaymentStatus.FAILED, PaymentStatus.PENDING],
            session__isnull=False,
            next_attempt_at__lte=now or timezone.now(),
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
    )


def payment_retry(*, payment_id: int) -> Invoice | None:
    """Try a due payment again; past the last try of a declined card, issue an open invoice instead.

    A declined payment is tried as a new attempt (`attempts` is part of the provider's idempotency
    key); a pending one, whose outcome the provider never told, keeps its attempt so the provider
    replays that outcome rather than charging twice, and is asked again less and less often.
    The row is claimed by moving its next try on first, so only one worker tries it at a time."""
    from billing.payments.base import ProviderUnavailable

    now = timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        due = payment.next_attempt_at is not None and payment.next_attempt_at <= now
        if not due or payment.status not in (PaymentStatus.FAILED, PaymentStatus.PENDING):
            return None
        if payment.status == PaymentStatus.FAILED:
            payment.attempts += 1
            payment.next_attempt_at = now + retry_delay(payment.attempts)
        else:
            payment.next_attempt_at = now + min(max(now - payment.created_at, PENDING_MIN), PENDING_MAX)
        payment.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    price = SessionPrice.objects.get(session_id=payment.session_id)
    try:
        result: Payment | None = _charge(price)
    except ProviderUnavailable:
        result = None
    if result is not None and result.status in PAID_STATUSES:
        Payment.objects.filter(pk=payment.pk).update(next_attempt_at=None)
        return _issue_and_mail(price)
    if (
        result is not None
        and result.status == PaymentStatus.FAILED
        and payment.attempts >= RETRY_MAX_ATTEMPTS
    ):
        Payment.objects.filter(pk=payment.pk).update(next_attempt_at=None)
        return _issue_and_mail(price)  # unpaid: an open invoice the driver pays otherwise
    return None


def last_month(today: date) -> tuple[datetime, datetime]:
    """The month before `today`'s, as aware datetimes at midnight in the configured time zone."""
    zone = ZoneInfo(settings.TIME_ZONE)
    end = datetime(today.year, today.month, 1, tzinfo=zone)
    previous = end - timedelta(days=1)
    return datetime(previous.year, previous.month, 1, tzinfo=zone), end


def statements_monthly(*, today: date | None = None) -> list[Invoice]:
    """On the first days of a month, issue every fleet's statements of last month (once)."""
    today = today or timezone.localdate()
    if today.day > STATEMENT_DAYS:
        return []
    period_start, period_end = last_month(today)
    statements: list[Invoice] = []
    for fleet in Organization.objects.filter(kind=OrganizationKind.FLEET).order_by("pk"):
        statements += statement_issue(organization=fleet, period_start=period_start, period_end=period_end)
    for statement in statements:
        if statement.emailed_at is None:
            from billing.tasks import invoice_email_task

            transaction.on_commit(functools.partial(invoice_email_task.delay, invoice_id=statement.pk))
    return statements


def sessions_unbilled(*, since: datetime) -> list[int]:
    """The ids of sessions ended since `since` that have no receipt or invoice yet, oldest first."""
    from billing.domain import InvoiceKind

    billed = Invoice.objects.filter(
        kind__in=[InvoiceKind.RECEIPT, InvoiceKind.INVOICE], session__isnull=False
    ).values("session_id")
    return list(
        ChargingSession.objects.filter(stopped_at__gte=since, id_token__isnull=False)
        .exclude(pk__in=billed)
        .order_by("stopped_at", "pk")
        .values_list("pk", flat=True)
    )
