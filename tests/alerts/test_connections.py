"""Failed boots, refused handshakes and reconnect storms: counted per charger, an alert past the
threshold (once), closed by an accepted boot or a quiet period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from stations.alerts.domain import AlertKind, Attempt
from stations.alerts.jobs import attempts_prune, reconnects_settled_scan
from stations.alerts.models import Alert, ConnectionAttempt
from stations.domain import RegistrationStatus
from stations.services import registry
from tests.alerts.conftest import MANAGER_EMAIL, send
from tests.factories import STATION_PASSWORD
from tests.ocpp_fixtures import load_payload

pytestmark = pytest.mark.django_db


def connect(
    identity: str, password: str = STATION_PASSWORD, channel: str = "chan-1"
) -> registry.AdmissionResult:
    return registry.station_connection_open(
        identity=identity,
        username=identity.encode(),
        password=password.encode(),
        protocol="ocpp1.6",
        channel_name=channel,
    )


def test_boots_answered_rejected_three_times_open_one_alert_and_an_accepted_boot_closes_it(
    station, charger16, outbox, django_capture_on_commit_callbacks
):
    station.registration_status = RegistrationStatus.REJECTED
    station.save()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            assert (
                send(charger16, "BootNotification", load_payload("v16", "boot_notification"))["status"]
                == "Rejected"
            )
    assert not Alert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            send(charger16, "BootNotification", load_payload("v16", "boot_notification"))
    alert = Alert.objects.get()
    assert (alert.kind, alert.station, alert.count, alert.evidence["failures"]) == (
        AlertKind.BOOT_FAILED,
        station,
        2,
        4,
    )
    assert [m.to for m in outbox] == [[MANAGER_EMAIL]]

    station.registration_status = RegistrationStatus.ACCEPTED
    station.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            send(charger16, "BootNotification", load_payload("v16", "boot_notification"))["status"]
            == "Accepted"
        )
    alert.refresh_from_db()
    assert alert.closed_at is not None and "accepted" in alert.close_reason
    # failures before the accepted boot no longer count
    station.registration_status = RegistrationStatus.PENDING
    station.save()
    with django_capture_on_commit_callbacks(execute=True):
        send(charger16, "BootNotification", load_payload("v16", "boot_notification"))
    assert not Alert.objects.open().exists()


def test_wrong_passwords_repeated_open_an_alert_for_the_charger(station, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert (
                connect(station.identity, "not-the-password-at-all").admission
                == registry.Admission.WRONG_PASSWORD
            )
    alert = Alert.objects.get()
    assert alert.station == station and alert.site == station.site and "wrong password" in alert.summary


def test_an_unknown_identity_knocking_repeatedly_alerts_the_superusers(
    outbox, django_capture_on_commit_callbacks
):
    User.objects.create_superuser(username="root", email="root@example.org", password="x")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            assert connect("GHOST-7").admission == registry.Admission.UNKNOWN
    alert = Alert.objects.get()
    assert (alert.station, alert.site, alert.count) == (None, None, 2)
    assert alert.evidence["identity"] == "GHOST-7"
    assert [m.to for m in outbox] == [["root@example.org"]]


def test_more_connections_than_allowed_in_the_window_open_an_alert_closed_once_stable(
    station, settings, django_capture_on_commit_callbacks
):
    settings.CSMS_ALERT_RECONNECTS, settings.CSMS_ALERT_RECONNECT_WINDOW_MIN = 3, 15
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            connect(station.identity, channel=f"chan-{n}")
    assert not Alert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        connect(station.identity, channel="chan-9")
    alert = Alert.objects.get()
    assert (alert.kind, alert.evidence["connections"]) == (AlertKind.RECONNECTS, 4)

    now = timezone.now()
    assert reconnects_settled_scan(now=now + timedelta(minutes=5)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert reconnects_settled_scan(now=now + timedelta(minutes=16)) == 1
    alert.refresh_from_db()
    assert alert.closed_at is not None


def test_old_connection_records_are_pruned(station):
    now = timezone.now()
    ConnectionAttempt.objects.create(identity="A", outcome=Attempt.CONNECTED, at=now - timedelta(days=2))
    ConnectionAttempt.objects.create(identity="A", outcome=Attempt.CONNECTED, at=now - timedelta(hours=2))
    assert attempts_prune(now=now) == 1
    assert ConnectionAttempt.objects.filter(identity="A").count() == 1
