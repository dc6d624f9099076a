"""The periodic checks: chargers offline too long, sessions charging without progress; and their jobs
registered with django-celery-beat."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from stations.alerts.domain import AlertKind
from stations.alerts.jobs import ENERGY_REGISTER, offline_scan, stuck_sessions_scan
from stations.alerts.models import Alert
from stations.domain import ConnectorStatus
from stations.models import ChargingSession, Connector, MeterSample, Station
from stations.services import registry
from tests.alerts.conftest import MANAGER_EMAIL
from tests.factories import STATION_PASSWORD

pytestmark = pytest.mark.django_db


def test_a_charger_offline_longer_than_the_threshold_opens_one_alert_closed_when_it_is_back(
    station, settings, outbox, django_capture_on_commit_callbacks
):
    settings.CSMS_ALERT_OFFLINE_MIN = 30
    now = timezone.now()
    station.is_online, station.last_seen_at = False, now - timedelta(minutes=20)
    station.save()
    assert offline_scan(now=now) == (0, 0)
    with django_capture_on_commit_callbacks(execute=True):
        assert offline_scan(now=now + timedelta(minutes=11)) == (1, 0)
        assert offline_scan(now=now + timedelta(minutes=12)) == (0, 0)
    alert = Alert.objects.get()
    assert (alert.kind, alert.station, alert.count) == (AlertKind.OFFLINE, station, 1)
    assert [m.to for m in outbox] == [[MANAGER_EMAIL]]

    with django_capture_on_commit_callbacks(execute=True):  # the reconnect closes it at once
        registry.station_connection_open(
            identity=station.identity,
            username=station.identity.encode(),
            password=STATION_PASSWORD.encode(),
            protocol="ocpp1.6",
            channel_name="chan-1",
        )
    alert.refresh_from_db()
    assert alert.closed_at is not None and "connected again" in alert.close_reason


def test_the_offline_job_closes_the_alert_of_a_charger_back_online(station, settings):
    station.is_online, station.last_seen_at = False, timezone.now() - timedelta(hours=2)
    station.save()
    assert offline_scan() == (1, 0)
    station.is_online = True
    station.save()
    assert offline_scan() == (0, 1)


def test_a_charger_that_never_connected_or_is_not_accepted_is_not_offline(station):
    station.is_online, station.last_seen_at = False, None
    station.save()
    assert offline_scan() == (0, 0)


@pytest.fixture
def charging(station) -> ChargingSession:  # type: ignore[no-untyped-def]
    connector = Connector.objects.create(station=station, evse_id=1, status=ConnectorStatus.CHARGING)
    now = timezone.now()
    session = ChargingSession.objects.create(
        station=station, connector=connector, started_at=now - timedelta(minutes=60), meter_start_wh=1000
    )
    session.external_id = str(session.pk)  # as a 1.6 charger knows it
    session.save(update_fields=["external_id"])
    for minutes_ago, wh in [
        (60, "1000"),
        (50, "3500"),
        (40, "6000"),
        (30, "6000"),
        (20, "6000"),
        (10, "6000"),
    ]:
        sample(session, now - timedelta(minutes=minutes_ago), wh)
    return session


def sample(session: ChargingSession, at, wh: str) -> None:  # type: ignore[no-untyped-def]
    MeterSample.objects.create(
        station=session.station,
        session=session,
        evse_id=1,
        sampled_at=at,
        measurand=ENERGY_REGISTER,
        unit="Wh",
        value=Decimal(wh),
    )


def test_a_session_charging_without_energy_for_the_threshold_opens_one_alert_closed_on_progress(
    charging, settings, outbox, django_capture_on_commit_callbacks
):
    settings.CSMS_ALERT_STUCK_SESSION_MIN = 45
    assert stuck_sessions_scan() == (0, 0)  # 40 minutes without progress: not yet
    settings.CSMS_ALERT_STUCK_SESSION_MIN = 30
    with django_capture_on_commit_callbacks(execute=True):
        assert stuck_sessions_scan() == (1, 0)
        assert stuck_sessions_scan() == (0, 0)
    alert = Alert.objects.get()
    assert (alert.kind, alert.evse_id, alert.evidence["energy_register"]) == (
        AlertKind.STUCK_SESSION,
        1,
        "6000",
    )
    assert [m.to for m in outbox] == [[MANAGER_EMAIL]]
    sample(charging, timezone.now(), "6400")
    assert stuck_sessions_scan() == (0, 1)


def test_a_stuck_session_alert_closes_when_the_session_ends_or_the_car_pauses(charging, settings):
    settings.CSMS_ALERT_STUCK_SESSION_MIN = 30
    assert stuck_sessions_scan() == (1, 0)
    Connector.objects.filter(pk=charging.connector_id).update(status=ConnectorStatus.SUSPENDED_EV)
    assert stuck_sessions_scan() == (0, 1)  # a full car pausing is not stuck
    Connector.objects.filter(pk=charging.connector_id).update(status=ConnectorStatus.CHARGING)
    assert stuck_sessions_scan() == (1, 0)
    ChargingSession.objects.filter(pk=charging.pk).update(stopped_at=timezone.now())
    assert stuck_sessions_scan() == (0, 1)


def test_a_session_the_charger_left_open_when_it_rebooted_is_not_stuck(charging, settings):
    settings.CSMS_ALERT_STUCK_SESSION_MIN = 30
    assert stuck_sessions_scan() == (1, 0)
    # Rebooted without its StopTransaction: the session stays open for the stop still queued, but the
    # connector charging now is another car's.
    Station.objects.filter(pk=charging.station_id).update(last_boot_at=timezone.now())
    assert stuck_sessions_scan() == (0, 1)


def test_the_session_end_closes_its_stuck_alert_at_once(
    charging, settings, django_capture_on_commit_callbacks
):
    from stations.domain import StopReason
    from stations.services.sessions import session_stop

    settings.CSMS_ALERT_STUCK_SESSION_MIN = 30
    stuck_sessions_scan()
    with django_capture_on_commit_callbacks(execute=True):
        session_stop(
            station_id=charging.station_id,
            external_id=charging.external_id,
            meter_stop_wh=6000,
            stopped_at=timezone.now(),
            reason=StopReason.EV_DISCONNECTED,
        )
    assert not Alert.objects.open().exists()


@pytest.mark.usefixtures("periodic_jobs")
def test_the_alert_jobs_are_registered_with_beat():
    tasks = set(
        PeriodicTask.objects.filter(task__startswith="stations.alerts.").values_list("task", flat=True)
    )
    assert tasks == {
        "stations.alerts.tasks.offline_scan_task",
        "stations.alerts.tasks.stuck_sessions_scan_task",
        "stations.alerts.tasks.reconnects_settled_scan_task",
        "stations.alerts.tasks.notifications_retry_task",
    }
