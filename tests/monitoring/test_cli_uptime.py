"""`manage.py chargers uptime`: the uptime report as CSV on the command line."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from stations.models import Connector
from stations.monitoring.models import ConnectionPeriod
from tests.factories import SiteFactory, StationFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[list[str]]:
    out = io.StringIO()
    call_command("chargers", "uptime", *args, stdout=out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_uptime_prints_each_connector_and_the_site_total_for_the_days_given():
    site = SiteFactory(name="Depot")
    station = StationFactory(site=site)
    Connector.objects.create(station=station, evse_id=1)
    StationFactory(site=SiteFactory(name="Elsewhere"))
    midnight = timezone.make_aware(timezone.datetime(2026, 11, 2))
    ConnectionPeriod.objects.create(
        station=station, connected_at=midnight, disconnected_at=midnight + timedelta(hours=18)
    )

    rows = run("--since", "2026-11-02", "--until", "2026-11-02", "--site", "Depot")
    assert rows[0][:3] == ["site", "charger", "connector"]
    assert rows[1] == ["Depot", station.identity, "1/1", "24.000", "6.000", "6.000", "0.000", "75.000"]
    assert rows[2] == ["Depot", "", "", "24.000", "6.000", "6.000", "0.000", "75.000"]
    assert len(rows) == 3


def test_uptime_refuses_an_unknown_site_a_reversed_period_and_a_malformed_day():
    with pytest.raises(CommandError, match="No site 'Nowhere'"):
        run("--since", "2026-11-02", "--until", "2026-11-03", "--site", "Nowhere")
    with pytest.raises(CommandError, match="must not be after"):
        run("--since", "2026-11-03", "--until", "2026-11-01")
    with pytest.raises(CommandError, match="is not a day"):
        run("--since", "yesterday", "--until", "2026-11-01")
