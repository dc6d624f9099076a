"""When a site's fleet is re-planned: once per burst of events, on a fleet vehicle plugging in or leaving and
on edits of needs, vehicles, grid prices and tariffs, and every 15 minutes by the periodic job. Without
Redis and without a gateway loop in this process the replan runs in a thread, as a management command's
would."""

from __future__ import annotations

import time as clock
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from billing.models import Tariff, TariffBand
from csms.celery import app as celery_app
from energy.models import ChargingNeed, FleetPlanRecord, GridPrice
from energy.services import fleet_triggers
from stations.signals import session_ended, session_started
from tests.energy.test_fleet_plan import charger, depot, plug_in, van

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def pending(site_id: int) -> bool:
    """Whether a replan of the site is scheduled (its debounce key is taken)."""
    return cache.has_key(fleet_triggers.FLEET_REPLAN.pending_key(site_id))


def records_after(site_id: int, count: int, timeout: float = 10.0) -> int:
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        found = FleetPlanRecord.objects.filter(site_id=site_id).count()
        if found >= count:
            clock.sleep(fleet_triggers.DEBOUNCE_S + 0.5)  # and no more come
            return FleetPlanRecord.objects.filter(site_id=site_id).count()
        clock.sleep(0.1)
    return FleetPlanRecord.objects.filter(site_id=site_id).count()


def fleet_site():
    site = depot()
    vehicle = van(site.organization, "Van", energy_needed_kwh=D("10"))
    session = plug_in(vehicle, charger(site), at=timezone.now() - timedelta(minutes=1))
    return site, session


def test_a_burst_of_plug_ins_re_plans_the_site_once_soon_after():
    site, session = fleet_site()

    for _ in range(5):
        session_started.send(sender=None, session_id=session.pk, station_id=session.station_id)

    assert pending(site.pk)
    assert records_after(site.pk, 1) == 1
    record = FleetPlanRecord.objects.get(site=site)
    # The charger is not connected to this process: the plan is recorded, not sent.
    assert record.plan["vehicles"][0]["profile"] == "offline"
    assert not pending(site.pk)

    session_ended.send(sender=None, session_id=session.pk)  # the van leaves: planned again
    assert records_after(site.pk, 2) == 2


def test_a_visitor_plugging_in_does_not_re_plan_the_fleet():
    site = depot()
    visitor = plug_in(None, charger(site))

    session_started.send(sender=None, session_id=visitor.pk, station_id=visitor.station_id)

    assert not pending(site.pk)


@pytest.mark.parametrize("edit", ["need", "grid price", "tariff band", "departure"])
def test_edits_of_what_the_plan_depends_on_re_plan_the_sites_with_a_fleet(edit):
    site, session = fleet_site()
    quiet = depot()
    plug_in(None, charger(quiet))
    vehicle = session.id_token.fleet_vehicles.get()

    if edit == "need":
        ChargingNeed.objects.create(
            vehicle=vehicle, departure_at=timezone.now() + timedelta(hours=5), energy_kwh=D(8)
        )
    elif edit == "grid price":
        now = timezone.now()
        GridPrice.objects.create(
            starts_at=now, ends_at=now + timedelta(hours=1), price_per_kwh=D("0.1"), currency="EUR"
        )
    elif edit == "tariff band":
        tariff = Tariff.objects.create(organization=site.organization, name="Night")
        TariffBand.objects.create(tariff=tariff, window_start=time(0), window_end=time(5))
    else:
        vehicle.departure_time = time(6, 30)
        vehicle.save()

    assert pending(site.pk) and not pending(quiet.pk)
    assert records_after(site.pk, 1) == 1


def test_the_periodic_job_re_plans_every_site_with_a_fleet_plugged_in_or_a_plan_in_force():
    site, session = fleet_site()
    planned_before = depot()
    FleetPlanRecord.objects.create(
        site=planned_before,
        computed_at=timezone.now() - timedelta(minutes=10),
        cost=0,
        cost_immediate=0,
        saving=0,
        currency="EUR",
        plan={"vehicles": [{"name": "gone"}]},
    )
    depot()  # no fleet at all

    assert fleet_triggers.fleet_sites() == {site.pk, planned_before.pk}
    assert fleet_triggers.fleet_sites_replan_soon() == 2
    assert fleet_triggers.fleet_sites_replan_soon() == 0  # debounced
    assert records_after(site.pk, 1) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("periodic_jobs")
def test_the_periodic_replan_is_a_job_staff_can_edit_and_its_task_is_registered():
    job = PeriodicTask.objects.get(task="energy.tasks_fleet.fleet_sites_replan_task")
    assert job.enabled and job.interval.every == 900 and job.interval.period == "seconds"
    assert job.task in celery_app.tasks
