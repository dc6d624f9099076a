"""Send an alert's notices, each recipient once per opening and once per closing."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from stations.alerts.channels import AlertChannel, ChannelUnavailable, alert_channels
from stations.alerts.models import Alert, AlertNotification


def alert_notify(*, alert_id: int, event: str) -> int:
    """Send what has not been sent yet; raise ChannelUnavailable (after recording each error) if any
    delivery failed, so the task retries only the failed ones. Returns how many went out."""
    alert = Alert.objects.select_related("site", "station").get(pk=alert_id)
    sent, failures = 0, []
    for channel in alert_channels():
        for recipient in channel.recipients(alert):
            notification, _ = AlertNotification.objects.get_or_create(
                alert=alert, event=event, channel=channel.identifier, recipient=recipient
            )
            delivered, error = _deliver(notification.pk, channel, alert, recipient, event)
            sent += delivered
            if error:
                failures.append(f"{channel.identifier} to {recipient}: {error}")
    if failures:
        raise ChannelUnavailable("; ".join(failures))
    return sent


@transaction.atomic
def _deliver(
    notification_id: int, channel: AlertChannel, alert: Alert, recipient: str, event: str
) -> tuple[bool, str]:
    """Send one notice unless it went out already or another run is sending it now (its row is locked
    for the sending: a retry and a redelivered task may run at once). Returns (sent, error)."""
    notification = (
        AlertNotification.objects.select_for_update(skip_locked=True)
        .filter(pk=notification_id, sent_at__isnull=True)
        .first()
    )
    if notification is None:
        return False, ""
    notification.attempts += 1
    try:
        channel.send(alert=alert, recipient=recipient, event=event)
    except ChannelUnavailable as error:
        notification.error = str(error)[:500]
        notification.save(update_fields=["attempts", "error"])
        return False, str(error)
    notification.sent_at, notification.error = timezone.now(), ""
    notification.save(update_fields=["attempts", "sent_at", "error"])
    return True, ""


def notifications_unsent() -> list[tuple[int, str]]:
    """The (alert, event) pairs with a notice that failed and was given up on, to try again."""
    return list(
        AlertNotification.objects.filter(sent_at__isnull=True, attempts__gt=0)
        .values_list("alert_id", "event")
        .distinct()
        .order_by("alert_id", "event")
    )
