"""Health-check jobs (rows of django-celery-beat, created by migration 0002; staff edit them in the admin)
and the sending of a profile application the admin started."""

from __future__ import annotations

from celery import shared_task


@shared_task
def heartbeat_check_task() -> int:
    """Compare online chargers' HeartbeatInterval with the CSMS's; return the run's id."""
    from stations.configuration.services.checks import heartbeat_check

    return heartbeat_check().pk


@shared_task
def drift_check_task() -> int:
    """Re-read the configuration of online chargers with a profile and raise or clear drift alerts."""
    from stations.configuration.services.checks import drift_check

    return drift_check().pk


@shared_task
def firmware_check_task() -> int:
    """Compare chargers' firmware versions with their standard and raise or clear alerts."""
    from stations.configuration.services.checks import firmware_check

    return firmware_check().pk


@shared_task(acks_late=True)
def firmware_station_check_task(*, station_id: int) -> None:
    """The firmware check of one charger that booted."""
    from stations.configuration.services.checks import firmware_station_check

    firmware_station_check(station_id=station_id)


@shared_task(acks_late=True)
def profile_application_run_task(*, application_id: int) -> None:
    """Send a started profile application to its chargers and store their answers."""
    from stations.configuration.models import ProfileApplication
    from stations.configuration.services.apply import profile_application_run

    profile_application_run(
        application=ProfileApplication.objects.select_related("profile").get(pk=application_id)
    )
