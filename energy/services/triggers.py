"""When the balancer runs: soon after whatever changes a site's load, once per burst (one recompute a
second after the first event; energy/services/debounce.py says how), and every minute as a safety net
(Celery beat, or the gateway's loop without Redis)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from energy.models import Allocation, AllocationStatus, SiteGrid
from energy.services.balancing import RebalanceOutcome, site_rebalance_async
from energy.services.debounce import SiteDebounce
from energy.services.loads import GIVE_BACK_BELOW_A, SETTLE, wanted_amps
from stations.models import ChargingSession, Station

DEBOUNCE_S = 1.0
SAFETY_NET_S = 60.0  # without Celery beat, the in-process periodic recompute of every site


def balanced_sites() -> list[int]:
    return list(SiteGrid.objects.filter(balancing_enabled=True).values_list("site_id", flat=True))


REBALANCE: SiteDebounce[RebalanceOutcome] = SiteDebounce(
    name="rebalance",
    what="rebalancing",
    job=site_rebalance_async,
    task="energy.tasks.site_rebalance_task",
    delay_s=DEBOUNCE_S,
    period_s=SAFETY_NET_S,
    sites=balanced_sites,
)


def site_rebalance_soon(site_id: int) -> bool:
    """Recompute the site in a second, once for all the events until then; True if this call scheduled it."""
    return REBALANCE.soon(site_id)


def site_rebalance_debounced(*, site_id: int) -> RebalanceOutcome | None:
    """The scheduled recompute: None when another recompute held the site (this one then follows it)."""
    return REBALANCE.run(site_id=site_id)


def sites_rebalance_soon() -> int:
    """Schedule a recompute of every site that balances (the periodic safety net); how many."""
    return REBALANCE.all_soon()


def balanced_site_of_station(station_id: int) -> int | None:
    return (
        Station.objects.filter(pk=station_id, site__grid__balancing_enabled=True)
        .values_list("site_id", flat=True)
        .first()
    )


def balanced_site_of_session(session_id: int) -> int | None:
    return (
        ChargingSession.objects.filter(pk=session_id, station__site__grid__balancing_enabled=True)
        .values_list("station__site_id", flat=True)
        .first()
    )


def station_after_boot(*, station_id: int) -> int | None:
    """A charger booted: what it held may be gone, so everything is sent to it again; the site's id."""
    site_id = balanced_site_of_station(station_id)
    if site_id is None:
        return None
    Allocation.objects.filter(station_id=station_id).update(
        applied_amps=None, default_amps=None, status=AllocationStatus.PENDING, answered_at=None
    )
    site_rebalance_soon(site_id)
    return site_id


def meter_sample_check(
    *, station_id: int, evse_id: int, session_id: int, current_a: Any, sampled_at: Any
) -> int | None:
    """The site to recompute when a car draws clearly less than it was given, wants more again, or draws
    more than allocated; None otherwise (one indexed read per reading)."""
    row = (
        Allocation.objects.filter(station_id=station_id, evse_id=evse_id, session_id=session_id)
        .values("amps", "wanted_amps", "sent_at", "answered_at", "station__site_id")
        .first()
    )
    if row is None:
        return None
    settled = row["answered_at"] or row["sent_at"]
    if settled is not None and (sampled_at or timezone.now()) < settled + SETTLE:
        return None
    wanted = wanted_amps(measured=current_a, given=row["amps"], previous=row["wanted_amps"])
    previous = row["wanted_amps"]
    if (wanted is None) != (previous is None) or (
        wanted is not None and previous is not None and abs(wanted - previous) >= 1
    ):
        return row["station__site_id"]
    if current_a > row["amps"] + GIVE_BACK_BELOW_A:
        return row["station__site_id"]
    return None
