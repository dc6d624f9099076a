"""When fleet plans are made: a site is re-planned soon after whatever changes its fleet's plan (a fleet
vehicle plugging in or leaving, a need or a vehicle edited, a grid price or a tariff changed), once per
burst, and every 15 minutes while a fleet is plugged in there or a plan is still in force.

The debounce is the balancer's (energy/services/debounce.py), with keys of its own: one replan DEBOUNCE_S
after the first event of a burst, never two of one site at once; with Redis in a Celery worker, without in
the gateway's event loop (or in a thread in a process holding no sockets).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from energy.models import FleetPlanRecord, FleetPlanStatus
from energy.services.debounce import SiteDebounce
from energy.services.fleet_replan import site_fleet_replan_async
from stations.models import ChargingSession

DEBOUNCE_S = 2.0  # after the balancer's 1 s: a car plugging in has its first limit before its plan
PERIOD_S = 15 * 60  # without Celery beat, the in-process periodic replan


def fleet_sites() -> set[int]:
    """The sites with a fleet vehicle plugged in, or a plan of the last day still naming vehicles."""
    plugged = (
        ChargingSession.objects.running()
        .filter(id_token__fleet_vehicles__isnull=False, station__site__grid__isnull=False)
        .values_list("station__site_id", flat=True)
    )
    sites = set(plugged)
    recent = FleetPlanRecord.objects.filter(computed_at__gt=timezone.now() - timedelta(days=1)).exclude(
        status=FleetPlanStatus.SUPERSEDED
    )
    for record in recent.only("site_id", "plan"):
        if record.plan.get("vehicles"):
            sites.add(record.site_id)
    return sites


def fleet_sites_sorted() -> list[int]:
    return sorted(fleet_sites())


FLEET_REPLAN: SiteDebounce[FleetPlanRecord] = SiteDebounce(
    name="fleet",
    what="the fleet replan",
    job=site_fleet_replan_async,
    task="energy.tasks_fleet.site_fleet_replan_task",
    delay_s=DEBOUNCE_S,
    period_s=PERIOD_S,
    sites=fleet_sites_sorted,
)


def site_fleet_replan_soon(site_id: int) -> bool:
    """Re-plan the site's fleet in DEBOUNCE_S, once for all the events until then; True if this call
    scheduled it."""
    return FLEET_REPLAN.soon(site_id)


def site_fleet_replan_debounced(*, site_id: int) -> FleetPlanRecord | None:
    """The scheduled replan: None when another replan held the site (this one then follows it)."""
    return FLEET_REPLAN.run(site_id=site_id)


def fleet_sites_replan_soon() -> int:
    """Schedule a replan of every site with a fleet (the periodic job); how many were scheduled."""
    return FLEET_REPLAN.all_soon()


def fleet_site_of_session(session_id: int) -> int | None:
    """The session's site when the session is a fleet vehicle's and the site's grid is known."""
    return (
        ChargingSession.objects.filter(
            pk=session_id, id_token__fleet_vehicles__isnull=False, station__site__grid__isnull=False
        )
        .values_list("station__site_id", flat=True)
        .first()
    )
