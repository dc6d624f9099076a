"""Celery tasks of fleet scheduling; each calls one service. Imported by energy.receivers_fleet, so that
every process that loads the app (the worker included) registers them."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def site_fleet_replan_task(*, site_id: int) -> None:
    """The debounced replan of one site's fleet (scheduled by site_fleet_replan_soon)."""
    from energy.services.fleet_triggers import site_fleet_replan_debounced

    site_fleet_replan_debounced(site_id=site_id)


@shared_task(ignore_result=True)
def fleet_sites_replan_task() -> int:
    """Every 15 minutes: re-plan every site with a fleet plugged in, as prices and the other loads move."""
    from energy.services.fleet_triggers import fleet_sites_replan_soon

    return fleet_sites_replan_soon()
