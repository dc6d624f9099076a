"""Mail to the driver about a payment: their bank asks them to authenticate it (3-D Secure).

The mail is sent by a Celery task queued after the commit (billing/tasks.py), which retries while the
mail server fails; the caller (a webhook, a billing run) never waits for or fails on the mail server.
Each attempt of a payment (`Payment.attempts`, the unit of the provider's idempotency key) is mailed
once: the cache records that the mail went out, so a retried, redelivered or duplicated task sends
nothing more. The record lives in the cache because the payment has no field for it; with a cache
shared by the workers (Redis) that holds across processes, with the per-process default it holds
within one process.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from billing.domain import PaymentStatus
from billing.models import Payment

# How long a worker may take to hand the mail to the server before another may try (a worker that died
# mid-send); past EMAIL_TIMEOUT, well below the task's first retry.
ACTION_MAIL_CLAIM_S = 120
# How long the "mailed" record is kept: longer than a payment waits for its driver.
ACTION_MAIL_RECORD_S = 90 * 86400


def payment_action_notify(payment: Payment, before: str) -> None:
    """Queue the mail asking the driver to authenticate, when the payment has just come to need them."""
    if before == PaymentStatus.REQUIRES_ACTION or payment.status != PaymentStatus.REQUIRES_ACTION:
        return
    from billing.tasks import payment_action_email_task  # lazy import avoids the services <-> tasks cycle

    payment_id, attempt = payment.pk, payment.attempts
    transaction.on_commit(lambda: payment_action_email_task.delay(payment_id=payment_id, attempt=attempt))


def payment_action_url(payment: Payment) -> str:
    """The portal page where the driver authenticates the payment (absolute when SITE_URL is set)."""
    path = reverse("billing:payment_authenticate", kwargs={"payment_id": payment.pk})
    return settings.SITE_URL.rstrip("/") + path


def payment_action_mail_key(payment: Payment, *, attempt: int) -> str:
    """The cache key recording that this attempt's mail went out (or is going out)."""
    # The creation time too: an id alone can come back (SQLite reuses the ids of rolled-back rows).
    created_us = int(payment.created_at.timestamp() * 1_000_000)
    return f"billing:payment-action-mail:{payment.pk}:{created_us}:{attempt}"


def payment_action_email(*, payment_id: int, attempt: int) -> bool:
    """Ask the driver to confirm a payment their bank wants authenticated, once per attempt.

    Returns whether a mail went out. Nothing is sent when the payment no longer waits for the driver
    or has moved on to another attempt. A mail server that fails raises (SMTPException, OSError) and
    leaves no record, so the task's retry sends it."""
    payment = Payment.objects.select_related("user", "session__station").get(pk=payment_id)
    if (
        payment.status != PaymentStatus.REQUIRES_ACTION
        or payment.attempts != attempt
        or payment.user is None
        or not payment.user.email
    ):
        return False
    key = payment_action_mail_key(payment, attempt=attempt)
    # cache.add is atomic: of two copies of the task running at once, one claims the mail.
    if not cache.add(key, "sending", timeout=ACTION_MAIL_CLAIM_S):
        return False
    context = {"payment": payment, "url": payment_action_url(payment)}
    try:
        send_mail(
            subject="Your bank asks you to confirm a charging payment",
            message=render_to_string("billing/email/payment_action.txt", context),
            from_email=None,
            recipient_list=[payment.user.email],
        )
    except BaseException:
        cache.delete(key)
        raise
    cache.set(key, "sent", timeout=ACTION_MAIL_RECORD_S)
    return True
