"""An independent charger client (ocpp-rpc, strict mode) validates every CSMS answer against the
official OCA JSON schemas, over a real socket to a live daphne."""

from __future__ import annotations

import subprocess

import pytest

from stations.models import ChargingSession
from tests.conftest import PEERS
from tests.factories import STATION_PASSWORD, IdTokenFactory, StationFactory

pytestmark = [pytest.mark.live, pytest.mark.peers, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("script", "version"), [("charger16.js", "ocpp1.6"), ("charger201.js", "ocpp2.0.1")])
def test_a_schema_validating_peer_runs_a_whole_session_without_a_violation(gateway, script, version):
    station = StationFactory()
    IdTokenFactory(id_tag="PEER-TAG")
    run = subprocess.run(
        ["node", str(PEERS / script), gateway.url, station.identity, STATION_PASSWORD, "PEER-TAG"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f'negotiated "{version}"' in run.stdout
    session = ChargingSession.objects.get(station=station, started_at__isnull=False)
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (2000, 3500, 1500)
