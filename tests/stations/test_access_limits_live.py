"""The limit job, end to end: a session at a restricted site outlasts its rule, the job (here in this
process, as a Celery worker would run it) reaches the charger held by a live daphne through Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stations.domain import AccessPolicy
from stations.models import ChargingSession
from stations.ocpp.base import format_timestamp
from stations.tasks import sessions_stop_over_limit_task
from tests.factories import (
    STATION_PASSWORD,
    AccessGroupFactory,
    AccessRuleFactory,
    IdTokenFactory,
    SiteFactory,
    StationFactory,
)
from tests.ocpp_fixtures import load_payload
from tests.stations.test_commands_redis import gateway_a, redis_layer  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_session_past_its_limit_is_stopped_by_the_job_across_processes(gateway_a):  # noqa: F811
    site = SiteFactory(access_policy=AccessPolicy.RESTRICTED)
    visitors = AccessGroupFactory(name="Visitors")
    visitors.id_tokens.add(IdTokenFactory(id_tag="VISITOR-1"))
    AccessRuleFactory(site=site, group=visitors, max_duration_min=60)
    station = StationFactory(site=site)
    started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=61)
    stops: list[dict] = []

    def remote_stop(payload: dict) -> dict:
        stops.append(payload)
        return {"status": "Accepted"}

    handlers = {"RemoteStopTransaction": remote_stop}
    with gateway_a.client(station.identity, STATION_PASSWORD, handlers=handlers) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        start = {
            "connectorId": 1,
            "idTag": "VISITOR-1",
            "meterStart": 0,
            "timestamp": format_timestamp(started_at),
        }
        transaction_id = charger.result("StartTransaction", start)["transactionId"]

        assert sessions_stop_over_limit_task() == 1

    assert stops == [{"transactionId": transaction_id}]
    session = ChargingSession.objects.get(station=station)
    assert session.allowed_until == started_at + timedelta(minutes=60)
    assert session.limit_stop_outcome == (f"Stopped remotely when the limit was reached ({session.limit}).")
