"""What re-plans a site's fleet: a fleet vehicle plugging in or leaving (stations' signals), and edits of
what a plan depends on: vehicles, needs, grid prices, tariffs, their bands and assignments.

Those edits come from several admins (energy's, billing's) and from importers, so Django's model signals
are the one place that sees them all; billing does not need to know about fleets. A receiver only
schedules a debounced replan, after the commit, of the sites with a fleet (a few at most), and never
raises. The planner's own writes of needs send no signals (queryset updates, bulk_create)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import Tariff, TariffAssignment, TariffBand
from energy import tasks_fleet  # noqa: F401  (registers the tasks in every process)
from energy.models import ChargingNeed, FleetVehicle, GridPrice
from energy.receivers import never_raising
from energy.services import fleet_triggers
from stations.signals import session_ended, session_started

PLAN_INPUTS = (FleetVehicle, ChargingNeed, GridPrice, Tariff, TariffBand, TariffAssignment)


@receiver(session_started)
@never_raising
def replan_on_plug_in(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    if (site_id := fleet_triggers.fleet_site_of_session(session_id)) is not None:
        fleet_triggers.site_fleet_replan_soon(site_id)


@receiver(session_ended)
@never_raising
def replan_on_leaving(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    if (site_id := fleet_triggers.fleet_site_of_session(session_id)) is not None:
        fleet_triggers.site_fleet_replan_soon(site_id)


@never_raising
def _replan_fleet_sites() -> None:
    fleet_triggers.fleet_sites_replan_soon()


@never_raising
def replan_on_input_change(sender: Any, **kwargs: Any) -> None:
    if not kwargs.get("raw"):  # not while fixtures load
        transaction.on_commit(_replan_fleet_sites)


for model in PLAN_INPUTS:
    post_save.connect(
        replan_on_input_change, sender=model, dispatch_uid=f"fleet-replan-save-{model.__name__}"
    )
    post_delete.connect(
        replan_on_input_change, sender=model, dispatch_uid=f"fleet-replan-delete-{model.__name__}"
    )
