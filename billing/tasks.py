"""Billing's Celery tasks: each takes ids, calls one idempotent service and owns its retries.

Running a task twice, or again after a worker died in it (acks_late), charges, issues and mails
nothing twice: the services find what the first run made.
"""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

# Retries of a session's billing while the payment provider is down: 1 min, 2, 4, ... 32 min; after
# that the payment-retry job (every 5 minutes) takes over with its own, longer backoff.
BILL_MAX_RETRIES = 6
BILL_RETRY_FIRST_S = 60


@shared_task(bind=True, acks_late=True, max_retries=BILL_MAX_RETRIES)
def session_bill_task(self, *, session_id: int) -> int | None:  # type: ignore[no-untyped-def]
    """Price an ended session, charge the saved card, issue and mail the document."""
    from billing.services.billing_run import session_bill

    try:
        invoice = session_bill(session_id=session_id)
    except Exception as error:
        from billing.payments.base import ProviderUnavailable  # only card payments need the provider

        if isinstance(error, ProviderUnavailable):
            raise self.retry(exc=error, countdown=BILL_RETRY_FIRST_S * 2**self.request.retries) from error
        raise
    return invoice.pk if invoice else None


@shared_task(acks_late=True)
def sessions_unplug_wait_over_task() -> int:
    """Bill the sessions whose wait for the car's unplug is over (every 5 minutes).

    Each is billed by its own session_bill_task, which owns the retries while the provider is down."""
    from billing.services.unplug_wait import sessions_unplug_wait_over

    due = sessions_unplug_wait_over()
    for session_id in due:
        session_bill_task.delay(session_id=session_id)
    return len(due)


@shared_task(acks_late=True)
def payments_retry_task() -> int:
    """Try again the session payments whose next try is due (every 5 minutes)."""
    from billing.services.billing_run import payment_retry, payments_due

    issued = 0
    for payment_id in payments_due():
        issued += payment_retry(payment_id=payment_id) is not None
    return issued


@shared_task(acks_late=True)
def card_holds_stop_task() -> int:
    """Stop card-paid sessions whose cost reached their hold, release unused holds (every minute)."""
    from billing.services.card_hold import card_holds_watch

    return card_holds_watch()


@shared_task(acks_late=True)
def card_hold_session_start_task(*, payment_id: int) -> None:
    """Start the session of a hold the provider reports authorized (once, whoever asks first)."""
    from billing.services.card_hold import card_hold_session_start

    card_hold_session_start(payment_id=payment_id)


@shared_task(acks_late=True)
def statements_monthly_task() -> int:
    """Issue last month's fleet statements on the first days of a month (checked daily)."""
    from billing.services.billing_run import statements_monthly

    return len(statements_monthly())


# The 3-D Secure mail: retried while the mail server fails, 1 min, 2, 4, ... then every 10 min (with
# jitter), 8 times (within an hour in all); the payment stays linked on the driver's sessions page.
PAYMENT_ACTION_MAIL_MAX_RETRIES = 8
PAYMENT_ACTION_MAIL_RETRY_FIRST_S = 60


@shared_task(
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=PAYMENT_ACTION_MAIL_RETRY_FIRST_S,
    retry_backoff_max=600,
    max_retries=PAYMENT_ACTION_MAIL_MAX_RETRIES,
)
def payment_action_email_task(*, payment_id: int, attempt: int) -> bool:
    """Mail the driver a link to authenticate a payment attempt their bank challenged, once."""
    from billing.services.payment_mail import payment_action_email

    return payment_action_email(payment_id=payment_id, attempt=attempt)


@shared_task(
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=60,
    max_retries=8,
)
def invoice_email_task(*, invoice_id: int) -> bool:
    """Mail a document to its recipient, once."""
    from billing.models import Invoice
    from billing.services.invoicing import invoice_email

    return invoice_email(Invoice.objects.get(pk=invoice_id))
