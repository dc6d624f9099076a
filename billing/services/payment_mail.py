"""Mail to the driver about a payment: their bank asks them to authenticate it (3-D Secure)."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from billing.domain import PaymentStatus
from billing.models import Payment

logger = logging.getLogger(__name__)


def payment_action_notify(payment: Payment, before: str) -> None:
    """Mail the driver a link to authenticate, when the payment has just come to need them (once)."""
    if before == PaymentStatus.REQUIRES_ACTION or payment.status != PaymentStatus.REQUIRES_ACTION:
        return
    payment_id = payment.pk
    transaction.on_commit(lambda: _action_email_after_commit(payment_id))


def _action_email_after_commit(payment_id: int) -> None:
    # The payment is recorded already: a mail server that fails must not fail the caller (a webhook
    # would be marked failed, a billing run retried); the sessions page still links the payment.
    try:
        payment_action_email(payment_id=payment_id)
    except (SMTPException, OSError):
        logger.exception("Mailing the driver about payment %s failed", payment_id)


def payment_action_url(payment: Payment) -> str:
    """The portal page where the driver authenticates the payment (absolute when SITE_URL is set)."""
    path = reverse("billing:payment_authenticate", kwargs={"payment_id": payment.pk})
    return settings.SITE_URL.rstrip("/") + path


def payment_action_email(*, payment_id: int) -> bool:
    """Ask the driver to confirm a payment their bank wants authenticated; returns whether a mail went out."""
    payment = Payment.objects.select_related("user", "session__station").get(pk=payment_id)
    if payment.status != PaymentStatus.REQUIRES_ACTION or payment.user is None or not payment.user.email:
        return False
    context = {"payment": payment, "url": payment_action_url(payment)}
    send_mail(
        subject="Your bank asks you to confirm a charging payment",
        message=render_to_string("billing/email/payment_action.txt", context),
        from_email=None,
        recipient_list=[payment.user.email],
    )
    return True
