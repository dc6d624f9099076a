"""Session services, directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.domain import AuthorizationStatus
from stations.services.sessions import session_start
from tests.factories import IdTokenFactory, StationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)


def start(station, evse_id: int, at: datetime, id_tag: str = "DRIVER-1"):
    return session_start(
        station_id=station.pk, evse_id=evse_id, connector_id=1, id_tag=id_tag, meter_start_wh=0, started_at=at
    )


@pytest.mark.parametrize(
    ("online", "rebooted_since", "expected"),
    [
        (True, False, AuthorizationStatus.CONCURRENT_TX),
        (False, False, AuthorizationStatus.ACCEPTED),
        (True, True, AuthorizationStatus.ACCEPTED),
    ],
)
def test_only_a_live_open_session_elsewhere_makes_a_start_concurrent(online, rebooted_since, expected):
    IdTokenFactory(id_tag="DRIVER-1")
    first_station = StationFactory(is_online=True, last_boot_at=timezone.now() - timedelta(hours=1))
    start(first_station, 1, T0)
    first_station.is_online = online
    if rebooted_since:  # the station's clock may be off: what counts is when the CSMS recorded each
        first_station.last_boot_at = timezone.now() + timedelta(seconds=1)
    first_station.save()
    second = start(StationFactory(is_online=True), 1, T0 + timedelta(minutes=10))
    assert second.authorization.status == expected
