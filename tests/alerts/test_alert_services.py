"""alert_raise / alert_clear: one open alert per key, notified once per opening, closed with a notice."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import IntegrityError, connection, connections, transaction

from accounts.domain import Role
from accounts.models import Membership, Organization, User
from stations.alerts.models import Alert, AlertNotification
from stations.alerts.services import alert_clear, alert_raise
from stations.alerts.tasks import NOTIFY_MAX_RETRIES, alert_notify_task, notifications_retry_task
from tests.factories import StationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


@pytest.fixture
def station():  # type: ignore[no-untyped-def]
    station = StationFactory()
    organization = Organization.objects.create(name="Riverside Homes")
    station.site.organization = organization
    station.site.save()
    for name, role in [("boss", Role.OWNER), ("manager", Role.MANAGER), ("tech", Role.TECHNICIAN)]:
        user = User.objects.create_user(username=name, email=f"{name}@example.org", is_staff=True)
        Membership.objects.create(user=user, organization=organization, role=role)
    other = Organization.objects.create(name="Elsewhere")
    user = User.objects.create_user(username="other", email="other@example.org", is_staff=True)
    Membership.objects.create(user=user, organization=other, role=Role.MANAGER)
    return station


def raise_fault(station, **evidence):  # type: ignore[no-untyped-def]
    return alert_raise(
        kind="fault",
        key=f"fault:{station.pk}:1",
        summary="Connector 1 faulted",
        evidence=evidence,
        station=station,
        evse_id=1,
    )


def test_a_raised_alert_mails_the_site_managers_once_and_repeats_only_update_it(
    station, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = raise_fault(station, error_code="GroundFailure")
        again = raise_fault(station, error_code="OverCurrentFailure")
    assert first.pk == again.pk
    alert = Alert.objects.get()
    assert (alert.count, alert.site, alert.evidence["error_code"]) == (2, station.site, "OverCurrentFailure")
    assert len(alert.evidence["reports"]) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["boss@example.org", "manager@example.org"]
    assert "Connector 1 faulted" in mail.outbox[0].body and station.identity in mail.outbox[0].subject


def test_clearing_closes_the_alert_with_a_notice_and_the_next_report_opens_a_new_one(
    station, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        raise_fault(station)
        assert alert_clear(key=f"fault:{station.pk}:1", reason="Available again") is True
        assert alert_clear(key=f"fault:{station.pk}:1", reason="Available again") is False
    closed = Alert.objects.get()
    assert closed.closed_at is not None and closed.close_reason == "Available again"
    assert [n.event for n in AlertNotification.objects.order_by("id")] == ["opened"] * 2 + ["closed"] * 2
    assert "has cleared" in mail.outbox[-1].body
    with django_capture_on_commit_callbacks(execute=True):
        reopened = raise_fault(station)
    assert reopened.pk != closed.pk and Alert.objects.open().count() == 1
    assert len(mail.outbox) == 6


def test_no_closing_notice_when_switched_off(station, settings, django_capture_on_commit_callbacks):
    settings.CSMS_ALERT_NOTIFY_CLOSED = False
    with django_capture_on_commit_callbacks(execute=True):
        raise_fault(station)
        alert_clear(key=f"fault:{station.pk}:1", reason="ok")
    assert len(mail.outbox) == 2


def test_the_database_allows_one_open_alert_per_key(station):
    raise_fault(station)
    alert = Alert.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            kind="fault", key=alert.key, summary="x", opened_at=alert.opened_at, last_seen_at=alert.opened_at
        )


def test_a_bad_kind_is_refused(station):
    with pytest.raises(ValueError):
        alert_raise(kind="nonsense", key="k", summary="s", evidence={})


def test_an_alert_without_a_site_goes_to_superusers(django_capture_on_commit_callbacks):
    User.objects.create_superuser(username="root", email="root@example.org", password="x")
    with django_capture_on_commit_callbacks(execute=True):
        alert_raise(kind="boot_failed", key="boot_failed:GHOST", summary="Unknown charger", evidence={})
    assert [m.to for m in mail.outbox] == [["root@example.org"]]


def test_a_failed_mail_is_retried_and_a_later_run_sends_only_what_failed(station, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    alert = raise_fault(station)  # not committed-and-run: the task is called below, as a worker would
    alert_notify_task.delay(alert_id=alert.pk, event="opened")  # eager: retries run at once
    failed = AlertNotification.objects.filter(alert=alert)
    assert failed.count() == 2
    assert all(n.sent_at is None and n.attempts == 1 + NOTIFY_MAX_RETRIES and n.error for n in failed)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_retry_task.delay().get() == 1  # the job finds the notice given up on
    assert notifications_retry_task.delay().get() == 0
    alert_notify_task.delay(alert_id=alert.pk, event="opened")
    assert len(mail.outbox) == 2
    assert all(n.sent_at is not None and n.error == "" for n in failed.all())


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked, reason="SQLite has no row locks"
)
def test_a_notice_another_run_is_sending_is_not_sent_twice(station):
    """A retry and a redelivered task may run at once: the one that finds a notice locked leaves it."""
    alert = raise_fault(station)  # committed: its notices went out; make one look unsent again
    mail.outbox.clear()
    AlertNotification.objects.filter(recipient="boss@example.org").update(sent_at=None)
    locked, release = threading.Event(), threading.Event()

    def another_run_sending() -> None:
        with transaction.atomic():
            AlertNotification.objects.select_for_update().get(recipient="boss@example.org")
            locked.set()
            release.wait(10)
        connections.close_all()

    worker = threading.Thread(target=another_run_sending)
    worker.start()
    assert locked.wait(10)
    try:
        assert alert_notify_task.delay(alert_id=alert.pk, event="opened").get() == 0
    finally:
        release.set()
        worker.join()
    assert mail.outbox == []
    assert alert_notify_task.delay(alert_id=alert.pk, event="opened").get() == 1
    assert [m.to for m in mail.outbox] == [["boss@example.org"]]
