"""Commands reach a charger whose socket another daphne process holds, through Redis: from this
process (as the admin or a management command would) and from a real Celery worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import redis

from stations.domain import CallStatus
from stations.models import OutgoingCall, Station
from stations.ocpp.commands import station_call
from tests.conftest import ROOT, celery_worker, child_env, redis_test_url
from tests.factories import STATION_PASSWORD, StationFactory
from tests.simulator_live import point_at_redis, wait_until

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_layer(settings):
    redis.Redis.from_url(redis_test_url()).flushdb()
    point_at_redis(settings, redis_test_url())


@pytest.fixture
def gateway_a(gateways, redis_layer):
    return gateways("redis-a", REDIS_URL=redis_test_url())


@pytest.fixture
def gateway_b(gateways, redis_layer):
    return gateways("redis-b", REDIS_URL=redis_test_url())


def test_a_command_from_this_process_reaches_a_charger_held_by_another_daphne(gateway_a, gateway_b):
    station = StationFactory()
    handlers = {
        "GetConfiguration": lambda p: {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        }
    }
    with gateway_a.client(station.identity, STATION_PASSWORD, handlers=handlers) as charger:
        answer = station_call(
            identity=station.identity,
            action="GetConfiguration",
            payload={"key": ["HeartbeatInterval"]},
            timeout=10,
        )
        assert answer["configurationKey"][0]["value"] == "300"
        assert charger.received_calls[0][2] == "GetConfiguration"
    assert OutgoingCall.objects.get().status == CallStatus.ANSWERED


def test_a_charger_stays_connected_through_quiet_periods_and_still_takes_commands(gateway_a):
    """The consumer waits on Redis for commands; a quiet socket must not time that wait out."""
    station = StationFactory()
    with gateway_a.client(
        station.identity, STATION_PASSWORD, handlers={"ClearCache": lambda p: {"status": "Accepted"}}
    ) as charger:
        time.sleep(7)  # longer than redis-py 8's default 5 s read timeout and the 5 s BZPOPMIN
        assert not charger.closed.is_set()
        assert station_call(identity=station.identity, action="ClearCache", timeout=10) == {
            "status": "Accepted"
        }
        assert charger.result("Heartbeat", {})


def test_reconnecting_to_another_process_closes_the_old_socket_there(gateway_a, gateway_b):
    station = StationFactory()
    old = gateway_a.client(station.identity, STATION_PASSWORD)
    with gateway_b.client(
        station.identity, STATION_PASSWORD, handlers={"ClearCache": lambda p: {"status": "Accepted"}}
    ) as new:
        assert old.closed.wait(10) and old.ws.close_code == 4000
        assert station_call(identity=station.identity, action="ClearCache", timeout=10) == {
            "status": "Accepted"
        }
        assert new.received_calls and not old.received_calls
    assert wait_until(lambda: not Station.objects.get(pk=station.pk).is_online)


def test_a_celery_worker_reaches_the_charger_through_the_channel_layer(gateway_a):
    station = StationFactory()
    env = child_env(REDIS_URL=redis_test_url())
    with celery_worker("commands", REDIS_URL=redis_test_url()):
        with gateway_a.client(
            station.identity, STATION_PASSWORD, handlers={"TriggerMessage": lambda p: {"status": "Accepted"}}
        ) as charger:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "csms",
                    "call",
                    "stations.tasks.station_call_task",
                    "--kwargs",
                    json.dumps(
                        {
                            "identity": station.identity,
                            "action": "TriggerMessage",
                            "payload": {"requestedMessage": "Heartbeat"},
                            "timeout": 10,
                        }
                    ),
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                timeout=30,
            )
            assert wait_until(lambda: OutgoingCall.objects.filter(status=CallStatus.ANSWERED).exists(), 30), (
                "the worker's call never completed"
            )
            assert charger.received_calls[0][2:] == ["TriggerMessage", {"requestedMessage": "Heartbeat"}]
        call = OutgoingCall.objects.get()
        assert (call.requested_by, call.response) == ("celery", {"status": "Accepted"})
