from __future__ import annotations

import pytest

from stations.models import Station
from tests.factories import STATION_PASSWORD, StationFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_boot_over_a_live_socket_is_accepted_and_stored(gateway):
    station = StationFactory()
    with gateway.client(station.identity, STATION_PASSWORD) as client:
        assert client.subprotocol == "ocpp1.6"
        result = client.result("BootNotification", {"chargePointVendor": "ABB", "chargePointModel": "Terra AC"})
    assert result["status"] == "Accepted"
    station.refresh_from_db()
    assert (station.vendor, station.model, station.protocol) == ("ABB", "Terra AC", "ocpp1.6")
