"""Send a site's fleet plan to the chargers and record it: the replan the triggers and the periodic job run.

The schedules go out all at once (each charger still takes its calls one at a time), then the schedules of
fleet sessions the new plan leaves out are cleared, then the plan is recorded with every charger's answer
(it supersedes the site's earlier plans and is the one in force, see fleet_state) and the balancer is asked
to recompute the site, so that planned fleet sessions count at their planned current from then on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from energy.models import FleetPlanRecord, FleetPlanStatus, SiteGrid
from energy.services.fleet import (
    FLEET_PROFILE_BASE,
    REQUESTED_BY,
    FleetDraft,
    site_fleet_plan_compute,
)
from energy.services.fleet_state import ACCEPTED
from energy.services.loads import Evse
from energy.services.sending import Build, profile_call
from stations.ocpp.profiles import ProfileLimit

Answer = tuple[str, str]  # (AllocationStatus value, error)


async def _call(evse: Evse, build: Build) -> Answer:
    """Send one call built by `build(adapter)`; the charger's answer, never raising for its sake."""
    return await profile_call(
        protocol=evse.protocol, identity=evse.identity, build=build, requested_by=REQUESTED_BY
    )


def _profile_set(limit: ProfileLimit) -> Build:
    return lambda adapter: adapter.charging_profile_call(limit)


def _profile_clear(profile_id: int) -> Build:
    return lambda adapter: adapter.clear_charging_profile_call(profile_id=profile_id)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def plan_json(draft: FleetDraft, answers: list[Answer]) -> dict[str, Any]:
    """The plan as FleetPlanRecord.plan keeps it (fleet_state.plan_read reads it back)."""
    vehicles = []
    for schedule, (status, error) in zip(draft.schedules, answers, strict=True):
        plugged, evse = schedule.plugged, schedule.evse
        vehicles.append(
            {
                "vehicle": plugged.vehicle.pk,
                "name": plugged.vehicle.name,
                "session": plugged.session.pk,
                "station": evse.station_id,
                "identity": evse.identity,
                "evse": evse.evse_id,
                "departure": _iso(plugged.departure),
                "needed_kwh": str(plugged.remaining_kwh),
                "energy_kwh": str(schedule.plan.energy_kwh),
                "shortfall_kwh": str(schedule.plan.shortfall_kwh),
                "cost": str(schedule.plan.cost),
                "periods": [
                    {"start": _iso(p.start), "end": _iso(p.end), "kw": str(p.kw), "amps": str(amps)}
                    for p, amps in schedule.periods
                ],
                "until": _iso(schedule.until),
                "profile_id": schedule.limit.profile_id,
                "profile": str(status),
                "error": error,
            }
        )
    return {
        "start": _iso(draft.at),
        "end": _iso(draft.slots[-1].end) if draft.slots else None,
        "tariff": draft.tariff,
        "capacity_kw": None if draft.capacity_kw is None else str(draft.capacity_kw),
        "slots": [
            {
                "start": _iso(slot.start),
                "end": _iso(slot.end),
                "price": str(slot.price_per_kwh),
                "capacity_kw": str(slot.capacity_kw),
            }
            for slot in draft.slots
        ],
        "vehicles": vehicles,
        "cleared_sessions": [evse.session_id for evse in draft.clears],
    }


def _status(draft: FleetDraft, answers: list[Answer]) -> FleetPlanStatus:
    if draft.failed:
        return FleetPlanStatus.FAILED
    if not draft.schedules:
        return FleetPlanStatus.PLANNED
    accepted = sum(status == ACCEPTED for status, _ in answers)
    if accepted == 0:
        return FleetPlanStatus.FAILED
    if accepted < len(answers):
        return FleetPlanStatus.PARTIAL
    if draft.plan is not None and any(vp.shortfall_kwh for vp in draft.plan.vehicles):
        return FleetPlanStatus.INFEASIBLE
    return FleetPlanStatus.SENT


@transaction.atomic
def fleet_plan_record(*, draft: FleetDraft, answers: list[Answer]) -> FleetPlanRecord:
    """Record the plan with the chargers' answers; it supersedes the site's earlier plans."""
    FleetPlanRecord.objects.filter(site_id=draft.site_id).exclude(status=FleetPlanStatus.SUPERSEDED).update(
        status=FleetPlanStatus.SUPERSEDED
    )
    plan = draft.plan
    zero = Decimal(0)
    refused = [
        f"{s.plugged.vehicle.name}: {e or st}"
        for s, (st, e) in zip(draft.schedules, answers, strict=True)
        if st != ACCEPTED
    ]
    message = "; ".join(filter(None, [draft.message, *(f"not sent to {r}" for r in refused)]))
    return FleetPlanRecord.objects.create(
        site_id=draft.site_id,
        computed_at=draft.at,
        cost=plan.cost if plan else zero,
        cost_immediate=plan.cost_immediate if plan else zero,
        saving=plan.saving if plan else zero,
        currency=draft.currency,
        plan=plan_json(draft, answers),
        status=_status(draft, answers),
        message=message[:500],
    )


def _rebalance_soon(site_id: int) -> None:
    from energy.services.triggers import site_rebalance_soon

    if SiteGrid.objects.filter(site_id=site_id, balancing_enabled=True).exists():
        site_rebalance_soon(site_id)


async def site_fleet_replan_async(*, site_id: int) -> FleetPlanRecord | None:
    """Plan the site's fleet, send the schedules, record the plan; None when there was nothing to plan."""
    draft = await database_sync_to_async(site_fleet_plan_compute, thread_sensitive=False)(site_id=site_id)
    if draft is None:
        return None
    answers = list(await asyncio.gather(*(_call(s.evse, _profile_set(s.limit)) for s in draft.schedules)))
    profile_id = FLEET_PROFILE_BASE
    await asyncio.gather(*(_call(e, _profile_clear(profile_id + e.evse_id)) for e in draft.clears))
    record = await database_sync_to_async(fleet_plan_record, thread_sensitive=False)(
        draft=draft, answers=answers
    )
    await database_sync_to_async(_rebalance_soon, thread_sensitive=False)(site_id)
    return record


def site_fleet_replan(*, site_id: int) -> FleetPlanRecord | None:
    """site_fleet_replan_async, for Celery tasks, management commands and tests."""
    return async_to_sync(site_fleet_replan_async)(site_id=site_id)
