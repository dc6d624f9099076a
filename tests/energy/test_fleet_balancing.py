"""The balancer and the fleet plan share a site: a fleet session whose charger accepted its plan counts at
the plan's current (the highest within the next two minutes), the other cars share the rest, and the
balancer's own limit for the fleet session follows that current."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from energy.models import Allocation, AllocationStatus
from energy.services.balancing import site_rebalance_plan
from energy.services.fleet import site_fleet_plan_compute
from energy.services.fleet_replan import fleet_plan_record
from energy.services.sending import SendKind
from tests.energy.test_fleet_plan import EVENING, HOUR, charger, depot, night_tariff, plug_in, van

pytestmark = pytest.mark.django_db

D = Decimal


def planned_site(answer: AllocationStatus = AllocationStatus.ACCEPTED):
    """A 32 A site: a van due to charge 11 kWh from 22:00 (the shoulder band, its cheapest before 07:00
    with off-peak full), a visitor's car on a 32 A charger; the plan recorded as the chargers answered."""
    site = depot("32")
    night_tariff(site)
    van_connector = charger(site)
    vehicle = van(site.organization, "Van", energy_needed_kwh=D("11"), departure_time=None)
    from energy.models import ChargingNeed

    ChargingNeed.objects.create(vehicle=vehicle, departure_at=EVENING + 3 * HOUR, energy_kwh=D("11"))
    van_session = plug_in(vehicle, van_connector)
    visitor = plug_in(None, charger(site, amps="32"))
    draft = site_fleet_plan_compute(site_id=site.pk, now=EVENING)
    assert draft is not None
    fleet_plan_record(draft=draft, answers=[(answer, "")])
    return site, van_session, visitor


def amps_of(session) -> tuple[Decimal, str]:
    row = Allocation.objects.get(station=session.station, evse_id=1)
    return row.amps, row.reason


def test_a_planned_van_counts_at_its_plan_now_and_two_minutes_before_it_rises():
    site, van_session, visitor = planned_site()

    plan = site_rebalance_plan(site_id=site.pk, now=EVENING + timedelta(minutes=30))

    assert amps_of(van_session) == (D(0), "fleet plan: 0 A")
    assert amps_of(visitor)[0] == D(32)  # the whole site while the van waits for 22:00
    (mirror,) = [s for s in plan.sends if s.kind == SendKind.SESSION and s.session_id == van_session.pk]
    assert mirror.amps == 0  # the balancer's own limit under the schedule

    site_rebalance_plan(site_id=site.pk, now=EVENING + 2 * HOUR - timedelta(minutes=1))

    assert amps_of(van_session) == (D("15.9"), "fleet plan: 15.9 A")
    assert amps_of(visitor)[0] == D("16.1")  # lowered before the van rises at 22:00


def test_a_van_whose_charger_refused_its_plan_is_balanced_like_any_car():
    site, van_session, visitor = planned_site(AllocationStatus.REJECTED)

    site_rebalance_plan(site_id=site.pk, now=EVENING + timedelta(minutes=30))

    amps, reason = amps_of(van_session)
    assert not reason.startswith("fleet plan") and amps == D(16)  # its charger's maximum
    assert amps_of(visitor)[0] == D(16)
