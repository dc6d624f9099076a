"""Where alert notices go. Channels are listed by dotted path in CSMS_ALERT_CHANNELS (default: email)."""

from __future__ import annotations

import functools
import smtplib
from abc import ABC, abstractmethod

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.module_loading import import_string

from accounts.domain import ROLES_MANAGING
from stations.alerts.models import Alert


class ChannelUnavailable(Exception):
    """The channel could not deliver now; the notification task retries."""


class AlertChannel(ABC):
    identifier: str

    @abstractmethod
    def recipients(self, alert: Alert) -> list[str]:
        """Addresses on this channel of the people to tell about the alert."""

    @abstractmethod
    def send(self, *, alert: Alert, recipient: str, event: str) -> None:
        """Deliver one notice (event: opened or closed); raise ChannelUnavailable to be retried."""


def alert_managers(alert: Alert) -> list[str]:
    """The email addresses of the owners and managers of the alert's site's organization; superusers
    for an alert without one (an unknown charger, a site no organization runs)."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    organization_id = alert.site.organization_id if alert.site is not None else None
    if organization_id is None:
        users = users.filter(is_superuser=True)
    else:
        users = users.filter(
            memberships__organization_id=organization_id, memberships__role__in=list(ROLES_MANAGING)
        )
    return sorted(set(users.values_list("email", flat=True)))


class EmailChannel(AlertChannel):
    identifier = "email"

    def recipients(self, alert: Alert) -> list[str]:
        return alert_managers(alert)

    def send(self, *, alert: Alert, recipient: str, event: str) -> None:
        context = {
            "alert": alert,
            "event": event,
            "link": settings.SITE_URL + reverse("admin:alerts_alert_change", args=[alert.pk]),
        }
        subject = render_to_string("alerts/email_subject.txt", context).strip()
        body = render_to_string("alerts/email_body.txt", context)
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
        except (smtplib.SMTPException, OSError) as error:
            raise ChannelUnavailable(str(error) or type(error).__name__) from error


@functools.cache
def _channel(path: str) -> AlertChannel:
    return import_string(path)()


def alert_channels() -> list[AlertChannel]:
    return [_channel(path) for path in settings.CSMS_ALERT_CHANNELS]
