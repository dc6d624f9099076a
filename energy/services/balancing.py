"""Dynamic load balancing of a site: read it, allocate, decide which limits to send, send them (lowered
ones first), record what the chargers answered.

Every EVSE holds a reservation at all times: a session its share (TxProfile), an idle EVSE of an online
charger whatever is left (its own TxDefaultProfile), so that a car starting draws at most what is free
and the site stays under its limits between two recomputes and while the CSMS is unreachable. A limit
that goes down is always sent; one that goes up only by at least 0.5 A. Limits that go down are sent,
and answered, before any that go up; if a charger refuses to go down, the site is planned again around
the limit it keeps before anything goes up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from energy.allocation import Load, allocate
from energy.models import Allocation, AllocationStatus, SiteGrid
from energy.services import recording
from energy.services.loads import RETRY_AFTER, Evse, SiteLoads, in_force, site_loads
from energy.services.sending import Send, SendKind, composites_check, profiles_send

logger = logging.getLogger(__name__)

RAISE_AT_LEAST_A = Decimal("0.5")


@dataclass
class Plan:
    site_id: int
    at: datetime
    sends: list[Send] = field(default_factory=list)
    charging: int = 0
    paused: int = 0

    @property
    def lowering(self) -> list[Send]:
        return [send for send in self.sends if send.lowers]

    @property
    def raising(self) -> list[Send]:
        return [send for send in self.sends if not send.lowers]


@dataclass
class RebalanceOutcome:
    site_id: int
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    raises_held_back: int = 0
    composite_mismatches: int = 0
    paused: int = 0
    charging: int = 0


def _changed(target: Decimal, current: Decimal | None) -> bool:
    """Whether a limit must be sent: any decrease, an increase of at least RAISE_AT_LEAST_A."""
    return current is None or target < current or target >= current + RAISE_AT_LEAST_A


def _recently_refused(row: Allocation | None, target: Decimal, now: datetime) -> bool:
    """A charger that refused (or missed) this very limit lately is not asked again before RETRY_AFTER."""
    return (
        row is not None
        and row.amps == target
        and row.status in (AllocationStatus.REJECTED, AllocationStatus.FAILED, AllocationStatus.OFFLINE)
        and row.answered_at is not None
        and now - row.answered_at < RETRY_AFTER
    )


def idle_shares(site: SiteLoads, amps: dict[str, Decimal]) -> dict[str, Decimal]:
    """What each idle EVSE may give the next car: the capacity the sessions leave, shared fairly; 0 where
    that is below the minimum current, as no AC car could charge on it."""
    if not site.idle:
        return {}
    fixed = [
        replace(load, max_amps=amps[load.id], wanted_amps=amps[load.id], min_amps=Decimal(0), fixed=True)
        for load in site.loads
    ]
    idle = [Load(e.key, e.circuit_id, e.grid_phases, e.max_amps, rank=i) for i, e in enumerate(site.idle)]
    shares = allocate(site.circuits, fixed + idle)
    minimum = site.grid.min_current_amps
    return {e.key: shares[e.key] if e.is_dc or shares[e.key] >= minimum else Decimal(0) for e in site.idle}


def _reason(site: SiteLoads, evse: Evse, target: Decimal) -> str:
    if evse.key in site.fixed_reasons:
        return site.fixed_reasons[evse.key]
    wanted = site.wanted.get(evse.key)
    if target == 0:
        return f"paused: less than the minimum {site.grid.min_current_amps} A is free"
    if target >= evse.max_amps:
        return "its maximum"
    if wanted is not None and target >= min(wanted, evse.max_amps):
        return f"what the car draws, plus a margin (it drew {evse.measured_max} A)"
    return "its share of a limit"


def _session_sends(site: SiteLoads, amps: dict[str, Decimal], now: datetime) -> list[Send]:
    sends = []
    for evse in site.busy.values():
        # A fleet session on its plan still gets its limit (stack 0, under the plan's schedule) at the
        # current it is counted at: the charger falls back to it when the schedule ends.
        if (evse.key in site.fixed_reasons and evse.session_id not in site.fleet_amps) or not evse.online:
            continue
        row = evse.allocation
        same_session = row is not None and row.session_id == evse.session_id
        target = amps[evse.key]
        applied = row.applied_amps if same_session and row is not None else None
        common: dict[str, Any] = {
            "station_id": evse.station_id,
            "identity": evse.identity,
            "protocol": evse.protocol,
            "evse_id": evse.evse_id,
            "amps": target,
            "phases": None if evse.is_dc else evse.phases,
            "session_id": evse.session_id,
        }
        if _changed(target, applied) and not (same_session and _recently_refused(row, target, now)):
            current = in_force(evse, site, same_session=same_session)
            reason = _reason(site, evse, target)
            sends.append(
                Send(
                    SendKind.SESSION,
                    previous=current,
                    reason=reason,
                    transaction_id=evse.transaction_id,
                    **common,
                )
            )
        # The next car on this EVSE must not start above what this session holds.
        default = in_force(evse, site, same_session=False)
        if default > target:
            sends.append(Send(SendKind.EVSE_DEFAULT, previous=default, reason="as the session", **common))
    return sends


def _idle_sends(site: SiteLoads, shares: dict[str, Decimal], now: datetime) -> list[Send]:
    sends = []
    for evse in site.idle:
        target, row = shares[evse.key], evse.allocation
        current = in_force(evse, site, same_session=False)
        known = row.default_amps if row is not None else None
        if (known is None or _changed(target, current)) and not _recently_refused(row, target, now):
            sends.append(
                Send(
                    SendKind.EVSE_DEFAULT,
                    evse.station_id,
                    evse.identity,
                    evse.protocol,
                    evse.evse_id,
                    target,
                    previous=current if known is not None or target < current else None,
                    reason="free for the next car" if target else "nothing free for another car",
                    phases=None if evse.is_dc else evse.phases,
                )
            )
    return sends


def _charger_sends(site: SiteLoads, now: datetime) -> list[Send]:
    """The charger-wide default and maximum, to chargers that have not accepted them since they booted
    (or since the site's safe default changed)."""
    sends = []
    for charger in site.chargers.values():
        row, target = charger.allocation, site.safe_default_amps
        if _recently_refused(row, target, now):
            continue
        common: dict[str, Any] = {
            "station_id": charger.station_id,
            "identity": charger.identity,
            "protocol": charger.protocol,
            "evse_id": 0,
        }
        default = row.default_amps if row is not None else None
        if default is None or _changed(target, default):
            sends.append(
                Send(SendKind.CHARGER_DEFAULT, amps=target, previous=default, reason="safe default", **common)
            )
        maximum = row.applied_amps if row is not None else None
        if maximum != charger.max_amps:
            reason = "the charger's maximum"
            sends.append(
                Send(
                    SendKind.CHARGER_MAX,
                    amps=charger.max_amps,
                    previous=maximum,
                    reason=reason,
                    phases=charger.phases,
                    **common,
                )
            )
    return sends


def site_rebalance_plan(
    *, site_id: int, now: datetime | None = None, load_sample: bool = True
) -> Plan | None:
    """Allocate the site and decide what to send; record the allocations (and, unless told, the site's
    load sample). None: balancing is off."""
    now = now or timezone.now()
    if not SiteGrid.objects.filter(site_id=site_id, balancing_enabled=True).exists():
        return None
    site = site_loads(site_id, now=now)
    amps = allocate(site.circuits, site.loads)
    shares = idle_shares(site, amps)
    plan = Plan(site_id, now, charging=len(site.busy), paused=sum(1 for key in site.busy if amps[key] == 0))
    plan.sends = _charger_sends(site, now) + _session_sends(site, amps, now) + _idle_sends(site, shares, now)
    reasons = {evse.key: _reason(site, evse, amps[evse.key]) for evse in site.busy.values()}
    with transaction.atomic():
        recording.allocations_record(
            site=site, amps=amps, shares=shares, reasons=reasons, sends=plan.sends, now=now
        )
        if load_sample:
            recording.site_load_sample_record(site=site, amps=amps, now=now)
    return plan


async def site_rebalance_async(*, site_id: int) -> RebalanceOutcome | None:
    """Recompute the site and apply it; None when balancing is off for the site."""
    plan_for = database_sync_to_async(site_rebalance_plan, thread_sensitive=False)
    record = database_sync_to_async(recording.outcomes_record, thread_sensitive=False)
    plan = await plan_for(site_id=site_id)
    if plan is None:
        return None
    outcome = RebalanceOutcome(site_id, charging=plan.charging, paused=plan.paused)
    sent = await profiles_send(plan.lowering)
    await record(site_id=site_id, outcomes=sent)
    raising = plan.raising
    if any(not s.accepted for s in sent):
        # A charger kept a higher limit: plan again around it (it now counts at that limit).
        plan = await plan_for(site_id=site_id, load_sample=False) or plan
        more = await profiles_send(plan.lowering)
        await record(site_id=site_id, outcomes=more)
        sent += more
        raising = plan.raising
        if any(not s.accepted for s in more):
            outcome.raises_held_back, raising = len(raising), []
    raised = await profiles_send(raising)
    await record(site_id=site_id, outcomes=raised)
    sent += raised
    checked = await composites_check([s.send for s in sent if s.accepted and s.send.kind == SendKind.SESSION])
    await database_sync_to_async(recording.composites_record, thread_sensitive=False)(composites=checked)
    outcome.sent = len(sent)
    outcome.accepted = sum(s.accepted for s in sent)
    outcome.refused = outcome.sent - outcome.accepted
    outcome.composite_mismatches = sum(c.mismatch for c in checked)
    return outcome


def site_rebalance(*, site_id: int) -> RebalanceOutcome | None:
    """site_rebalance_async, for Celery tasks, management commands and tests."""
    return async_to_sync(site_rebalance_async)(site_id=site_id)
