"""What the balancer writes: the allocation per EVSE, the chargers' answers, the history of limits sent
and the site's load against its limit. Bulk statements, so that a site of 1,000 chargers costs a few."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from energy.models import Allocation, AllocationChange, AllocationStatus, SiteLoadSample
from energy.services.loads import GRID, SiteLoads
from energy.services.sending import (
    EVSE_DEFAULT_PROFILE_BASE,
    SESSION_PROFILE_BASE,
    Composite,
    Send,
    SendKind,
    Sent,
)

ROW_FIELDS = [
    "session",
    "amps",
    "applied_amps",
    "default_amps",
    "wanted_amps",
    "measured_amps",
    "reason",
    "status",
    "profile_id",
    "sent_at",
    "answered_at",
    "error",
    "composite_limit_amps",
    "composite_checked_at",
    "composite_mismatch",
]
PENDING_KIND = {SendKind.SESSION: "busy", SendKind.EVSE_DEFAULT: "idle", SendKind.CHARGER_DEFAULT: "charger"}


def _set(row: Allocation, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        attribute = "session_id" if name == "session" else name
        if getattr(row, attribute) != value:
            setattr(row, attribute, value)
            changed = True
    return changed


def _save(rows: list[Allocation]) -> None:
    """Insert or update the rows in a few statements (INSERT ... ON CONFLICT: bulk_update's CASE
    expressions took seconds for a thousand rows on PostgreSQL)."""
    Allocation.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["station", "evse_id"],
        update_fields=[*ROW_FIELDS, "updated_at"],
    )


def allocations_record(
    *,
    site: SiteLoads,
    amps: dict[str, Decimal],
    shares: dict[str, Decimal],
    reasons: dict[str, str],
    sends: Sequence[Send],
    now: datetime,
) -> None:
    """Write each EVSE's allocation (only rows that change), mark those about to be sent pending, and
    drop the rows of EVSEs no longer in play (offline and idle, or gone)."""
    pending = {(send.key, PENDING_KIND.get(send.kind)) for send in sends}
    new: list[Allocation] = []
    changed: list[Allocation] = []
    kept: list[int] = []

    def keep(row: Allocation, values: dict[str, Any]) -> None:
        if row.pk is None:
            _set(row, values)
            new.append(row)
        else:
            kept.append(row.pk)
            if _set(row, values):
                changed.append(row)

    for evse in site.busy.values():
        row = evse.allocation or Allocation(station_id=evse.station_id, evse_id=evse.evse_id)
        values: dict[str, Any] = {
            "session": evse.session_id,
            "amps": amps[evse.key],
            "wanted_amps": site.wanted.get(evse.key),
            "measured_amps": evse.measured_max,
            "reason": reasons.get(evse.key, "")[:300],
        }
        if row.session_id != evse.session_id:  # a new session: nothing sent for it yet
            values.update(applied_amps=None, composite_limit_amps=None, composite_checked_at=None)
            values.update(composite_mismatch=False, status=AllocationStatus.PENDING, error="")
        if ((row.station_id, row.evse_id), "busy") in pending:
            values.update(status=AllocationStatus.PENDING, sent_at=now, error="")
            values["profile_id"] = SESSION_PROFILE_BASE + evse.evse_id
        keep(row, values)
    for evse in site.idle:
        row = evse.allocation or Allocation(station_id=evse.station_id, evse_id=evse.evse_id)
        share = shares[evse.key]
        values = {
            "session": None,
            "amps": share,
            "applied_amps": None,
            "wanted_amps": None,
            "measured_amps": None,
            "reason": "free for the next car" if share else "nothing free for another car",
        }
        if ((row.station_id, row.evse_id), "idle") in pending:
            values.update(status=AllocationStatus.PENDING, sent_at=now, error="")
            values["profile_id"] = EVSE_DEFAULT_PROFILE_BASE + evse.evse_id
        keep(row, values)
    for charger in site.chargers.values():
        row = charger.allocation or Allocation(station_id=charger.station_id, evse_id=0)
        values = {"amps": site.safe_default_amps, "reason": "the charger's default and maximum"}
        if ((charger.station_id, 0), "charger") in pending:
            values.update(status=AllocationStatus.PENDING, sent_at=now, error="")
        keep(row, values)
    Allocation.objects.filter(station__site_id=site.grid.site_id).exclude(pk__in=kept).delete()
    _save(new + changed)


def _rows(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Allocation]:
    keys = set(keys)
    stations = {station_id for station_id, _ in keys}
    rows = Allocation.objects.filter(station_id__in=stations)
    return {(row.station_id, row.evse_id): row for row in rows if (row.station_id, row.evse_id) in keys}


@transaction.atomic
def outcomes_record(*, site_id: int, outcomes: Sequence[Sent]) -> None:
    """Record the chargers' answers on the allocations, and each limit sent in the history."""
    if not outcomes:
        return
    rows = _rows(sent.send.key for sent in outcomes)
    changes = []
    for sent in outcomes:
        send, row = sent.send, rows.get(sent.send.key)
        if row is not None:
            _apply(row, sent)
        note = f" ({sent.error})" if sent.error else ""
        changes.append(
            AllocationChange(
                site_id=site_id,
                station_id=send.station_id,
                evse_id=send.evse_id,
                session_id=send.session_id,
                at=sent.at,
                amps_before=send.previous,
                amps=send.amps,
                status=sent.status,
                reason=f"{send.kind}: {send.reason}{note}"[:300],
            )
        )
    _save(list(rows.values()))
    AllocationChange.objects.bulk_create(changes, batch_size=500)


def _apply(row: Allocation, sent: Sent) -> None:
    send, accepted = sent.send, sent.accepted
    owns_status = (
        send.kind in (SendKind.SESSION, SendKind.CHARGER_DEFAULT)
        or (send.kind == SendKind.EVSE_DEFAULT and row.session_id is None)
        or (send.kind == SendKind.CHARGER_MAX and not accepted)
    )
    if owns_status:
        row.status, row.answered_at, row.error = sent.status, sent.at, sent.error
    elif not accepted:
        row.error = f"{send.kind}: {sent.error}"[:300]
    if accepted:
        if send.kind == SendKind.SESSION and row.session_id == send.session_id:
            row.applied_amps = send.amps
        elif send.kind in (SendKind.EVSE_DEFAULT, SendKind.CHARGER_DEFAULT):
            row.default_amps = send.amps
        elif send.kind == SendKind.CHARGER_MAX:
            row.applied_amps = send.amps


@transaction.atomic
def composites_record(*, composites: Sequence[Composite]) -> None:
    rows = _rows(c.send.key for c in composites)
    for composite in composites:
        if (row := rows.get(composite.send.key)) is not None:
            row.composite_limit_amps = composite.limit_amps
            row.composite_checked_at = composite.at
            row.composite_mismatch = composite.mismatch
    _save(list(rows.values()))


def site_load_sample_record(*, site: SiteLoads, amps: dict[str, Decimal], now: datetime) -> SiteLoadSample:
    """The site's load now: measured by the chargers, allocated by the balancer, and the limit."""
    measured = dict.fromkeys((1, 2, 3), Decimal(0))
    allocated = dict.fromkeys((1, 2, 3), Decimal(0))
    for evse in site.busy.values():
        for phase, value in evse.measured.items():
            measured[phase] += value
    for load in site.loads:
        for phase in load.grid_phases:
            allocated[phase] += amps[load.id]
    root = next(c for c in site.circuits if c.id == GRID)
    return SiteLoadSample.objects.create(
        site_id=site.grid.site_id,
        at=now,
        measured_l1_amps=measured[1],
        measured_l2_amps=measured[2],
        measured_l3_amps=measured[3],
        allocated_l1_amps=allocated[1],
        allocated_l2_amps=allocated[2],
        allocated_l3_amps=allocated[3],
        limit_amps=min(root.phase_limit_amps) if root.phase_limit_amps else None,
        charging=len(site.busy),
    )
