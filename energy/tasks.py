"""Celery tasks of energy management; each calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def site_rebalance_task(*, site_id: int) -> None:
    """The debounced recompute of one site (scheduled by site_rebalance_soon)."""
    from energy.services.triggers import site_rebalance_debounced

    site_rebalance_debounced(site_id=site_id)


@shared_task(ignore_result=True)
def sites_rebalance_task() -> int:
    """Periodic safety net: recompute every site that balances, whatever the events said."""
    from energy.services.triggers import sites_rebalance_soon

    return sites_rebalance_soon()


@shared_task(ignore_result=True)
def station_after_boot_task(*, station_id: int) -> None:
    """A charger booted: send it its default, maximum and limits again."""
    from energy.services.triggers import station_after_boot

    station_after_boot(station_id=station_id)
