"""What sets off a recompute: the charger's messages as the adapters handle them (a session starting, a
boot, a car drawing clearly less than given), each after its commit, debounced."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from energy.models import Allocation, AllocationStatus, SiteGrid, SiteLoadSample
from energy.services.triggers import REBALANCE, meter_sample_check, site_rebalance_soon
from stations.models import ChargingSession, Connector
from stations.ocpp.base import format_timestamp
from stations.ocpp.v16 import Ocpp16
from tests.factories import IdTokenFactory, SiteFactory, StationFactory
from tests.ocpp_fixtures import load_payload

A = Decimal


def charging(*, online: bool = False):
    """An (offline unless told) charger at a balanced 32 A site, in a session given 16 A a minute ago."""
    site = SiteFactory()
    SiteGrid.objects.create(site=site, phase_limit_amps=A(32))
    station = StationFactory(site=site, is_online=online, protocol="ocpp1.6")
    connector = Connector.objects.create(station=station, evse_id=1)
    session = ChargingSession.objects.create(
        station=station,
        connector=connector,
        started_at=timezone.now() - timedelta(minutes=5),
        meter_start_wh=0,
    )
    session.external_id = str(session.pk)
    session.save(update_fields=["external_id"])
    a_minute_ago = timezone.now() - timedelta(minutes=1)
    Allocation.objects.create(
        station=station,
        evse_id=1,
        session=session,
        amps=A(16),
        applied_amps=A(16),
        default_amps=A(8),
        status=AllocationStatus.ACCEPTED,
        sent_at=a_minute_ago,
        answered_at=a_minute_ago,
    )
    return site, station, session


def frame(action: str, payload: dict) -> str:
    return json.dumps([2, f"id-{time.monotonic_ns()}", action, payload])


def meter_values(session: ChargingSession, amps: str) -> str:
    payload = load_payload("v16", "meter_values", tx=int(session.external_id))
    sampled = payload["meterValue"][0]
    sampled["timestamp"] = format_timestamp(timezone.now())
    for value in sampled["sampledValue"]:
        if value["measurand"] == "Current.Import":
            value["value"] = amps
    return frame("MeterValues", payload)


def recomputes(site, expected: int, wait_s: float = 3.0) -> int:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and SiteLoadSample.objects.filter(site=site).count() < expected:
        time.sleep(0.1)
    time.sleep(0.3)
    return SiteLoadSample.objects.filter(site=site).count()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amps", "seconds_after_answer", "recompute"),
    [
        ("8.0", 60, True),  # clearly less than the 16 A given: give the rest to others
        ("15.2", 60, False),  # uses what it is given
        ("19.5", 60, True),  # more than allocated: the site must be looked at
        ("8.0", 2, False),  # too soon after the limit changed to tell
    ],
)
def test_a_reading_asks_for_a_recompute_only_when_the_car_draws_clearly_otherwise(
    amps, seconds_after_answer, recompute
):
    site, station, session = charging()
    answered = Allocation.objects.get(station=station).answered_at
    found = meter_sample_check(
        station_id=station.pk,
        evse_id=1,
        session_id=session.pk,
        current_a=A(amps),
        sampled_at=answered + timedelta(seconds=seconds_after_answer),
    )
    assert found == (site.pk if recompute else None)
    other = ChargingSession.objects.create(station=station, started_at=timezone.now())
    assert (
        meter_sample_check(
            station_id=station.pk, evse_id=1, session_id=other.pk, current_a=A(1), sampled_at=timezone.now()
        )
        is None
    )  # a session the balancer has not allocated yet: its start sets off the recompute


@pytest.mark.django_db(transaction=True)
def test_a_car_drawing_less_sets_off_one_recompute_after_the_commit():
    site, station, session = charging()
    adapter = Ocpp16(identity=station.identity, station_id=station.pk, accepted=True)

    assert json.loads(adapter.process(meter_values(session, "15.6")).reply)[0] == 3
    assert recomputes(site, 1, wait_s=2.0) == 0
    for _ in range(5):  # a burst of readings
        adapter.process(meter_values(session, "7.9"))

    assert recomputes(site, 1) == 1
    sample = SiteLoadSample.objects.get(site=site)
    assert (sample.measured_l1_amps, sample.measured_l3_amps, sample.charging) == (A("7.9"), A("7.9"), 1)


@pytest.mark.django_db(transaction=True)
def test_a_session_starting_sets_off_a_recompute():
    site, station, _ = charging()
    IdTokenFactory(id_tag="CAR-2")
    Connector.objects.create(station=station, evse_id=2)
    adapter = Ocpp16(identity=station.identity, station_id=station.pk, accepted=True)
    start = {
        "connectorId": 2,
        "idTag": "CAR-2",
        "meterStart": 0,
        "timestamp": format_timestamp(timezone.now()),
    }

    reply = json.loads(adapter.process(frame("StartTransaction", start)).reply)

    assert reply[2]["idTagInfo"]["status"] == "Accepted"
    assert recomputes(site, 1) == 1
    assert SiteLoadSample.objects.get(site=site).charging == 2


@pytest.mark.django_db(transaction=True)
def test_a_boot_forgets_what_the_charger_held_so_that_everything_is_sent_again():
    site, station, _ = charging()
    adapter = Ocpp16(identity=station.identity, station_id=station.pk, accepted=True)

    adapter.process(frame("BootNotification", load_payload("v16", "boot_notification")))

    row = Allocation.objects.get(station=station, evse_id=1)
    assert (row.applied_amps, row.default_amps, row.status) == (None, None, AllocationStatus.PENDING)
    assert recomputes(site, 1) == 1


@pytest.mark.redis
def test_with_redis_the_burst_keys_are_shared_by_every_process(settings):
    """With REDIS_URL the settings put Django's cache, which holds the debounce keys, in Redis: a key
    another process (a worker, another gateway) took holds here, until its TTL frees it."""
    from tests.conftest import ROOT, child_env, redis_test_url
    from tests.simulator_live import point_at_redis

    url = redis_test_url()
    point_at_redis(settings, url)
    site_id = 10**9 + time.monotonic_ns() % 10**9  # no site's: nothing may run for it
    assert cache.add(REBALANCE.lock_key(site_id), 1, timeout=5)
    other_process = (
        "import django; django.setup()\n"
        "from django.core.cache import cache\n"
        "from energy.services.triggers import REBALANCE\n"
        f"print(cache.add(REBALANCE.pending_key({site_id}), 1, timeout=2),"
        f" cache.add(REBALANCE.lock_key({site_id}), 1, timeout=2))\n"
    )
    taken = subprocess.run(
        [sys.executable, "-c", other_process],
        cwd=ROOT,
        env=child_env(REDIS_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert taken.stdout.split() == ["True", "False"]  # the burst key taken there, the lock held here
    assert not any(site_rebalance_soon(site_id) for _ in range(100))  # nothing scheduled from here
    time.sleep(2.2)
    assert cache.add(REBALANCE.pending_key(site_id), 1, timeout=5)  # the TTL frees a key nobody deleted
    cache.delete_many([REBALANCE.pending_key(site_id), REBALANCE.lock_key(site_id)])
