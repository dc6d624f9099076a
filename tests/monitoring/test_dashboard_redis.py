"""Across processes on Redis: a dashboard open on a live daphne hears of a charger the beat job (here,
this test's process, as a Celery worker would be) marks offline after its silence."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from websockets.asyncio.client import connect

from stations.models import Station
from stations.monitoring.models import ConnectionPeriod
from stations.services.registry import station_mark_offline_overdue
from tests.conftest import redis_test_url
from tests.factories import MembershipFactory, SiteFactory, StationFactory
from tests.simulator_live import point_at_redis

pytestmark = [pytest.mark.redis, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_the_beat_job_marking_a_silent_charger_offline_reaches_a_dashboard_in_another_process(
    gateways, settings
):
    url = redis_test_url()
    point_at_redis(settings, url)
    web = gateways("monitoring-redis", REDIS_URL=url)
    member = MembershipFactory()
    site = SiteFactory(organization=member.organization, name="Depot Redis")
    silent_since = timezone.now() - timedelta(hours=1)
    station = StationFactory(site=site, is_online=True, heartbeat_interval_s=60, last_seen_at=silent_since)
    ConnectionPeriod.objects.create(station=station, connected_at=silent_since - timedelta(hours=1))
    client = Client()
    client.force_login(member.user)
    headers = {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}",
        "Origin": f"http://127.0.0.1:{web.port}",
    }

    async def scenario() -> tuple[dict, dict]:
        async with connect(
            f"ws://127.0.0.1:{web.port}/monitoring/ws/dashboard/", additional_headers=headers
        ) as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert await database_sync_to_async(station_mark_offline_overdue)() == 1
            return snapshot, json.loads(await asyncio.wait_for(ws.recv(), 10))

    snapshot, pushed = asyncio.run(scenario())
    assert [(s["name"], s["online"]) for s in snapshot["sites"]] == [("Depot Redis", 1)]
    assert pushed["type"] == "site" and (pushed["site"]["online"], pushed["site"]["offline"]) == (0, 1)
    period = ConnectionPeriod.objects.get(station=station)
    assert (period.disconnected_at, period.reason) == (silent_since, "heartbeat overdue")
    assert not Station.objects.get(pk=station.pk).is_online
