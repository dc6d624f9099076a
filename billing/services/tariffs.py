"""Which tariff applies to a charge, and the revision that marks a tariff's every change.

An assignment names one place (a connector, a charger or a site), optionally an access group, and
the period it is valid in (`valid_until` exclusive). For a charge, the most specific place with a
valid assignment wins: connector, then charger, then site. At that place, a tariff for a group
the card belongs to wins over the one for everybody. Ties go to the latest `valid_from`, then the
newest assignment, so that the choice never depends on the database's row order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F, Q

from accounts.models import AccessGroupMember, IdToken, User
from accounts.selectors import id_token_group_ids
from billing.models import Tariff, TariffAssignment
from stations.models import ChargingSession, Connector, Station
from stations.services.windows import weekdays_parse, window_close


@dataclass(frozen=True)
class Band:
    """A time-of-use band as priced: None keeps the tariff's own price."""

    label: str
    days: frozenset[int]
    start: time
    end: time
    energy_price_per_kwh: Decimal | None
    time_price_per_min: Decimal | None


@dataclass(frozen=True)
class TariffTerms:
    """A tariff's prices at one revision, detached from the database (and stored as its snapshot)."""

    name: str
    currency: str
    energy_price_per_kwh: Decimal
    time_price_per_min: Decimal
    session_fee: Decimal
    idle_price_per_min: Decimal
    idle_grace_min: int
    tax_rate_percent: Decimal
    prices_include_tax: bool
    revision: int
    bands: tuple[Band, ...] = ()
    idle_from_suspended_ev: bool = False


@dataclass(frozen=True)
class Rates:
    """The energy and time prices in force at one moment, and the band that sets them."""

    band: Band | None
    energy_price_per_kwh: Decimal
    time_price_per_min: Decimal


def assignments_valid_at(at: datetime) -> Q:
    return (Q(valid_from__isnull=True) | Q(valid_from__lte=at)) & (
        Q(valid_until__isnull=True) | Q(valid_until__gt=at)
    )


def _specificity(assignment: TariffAssignment) -> int:
    if assignment.connector_id is not None:
        return 3
    if assignment.station_id is not None:
        return 2
    return 1


def tariff_for_groups(
    *, station: Station, connector: Connector | None, group_ids: set[int], at: datetime
) -> Tariff | None:
    """Return the tariff for a driver in these access groups at this charger (or connector) at `at`."""
    places = Q(station_id=station.pk)
    if station.site_id is not None:
        places |= Q(site_id=station.site_id)
    if connector is not None:
        places |= Q(connector_id=connector.pk)
    candidates = (
        TariffAssignment.objects.filter(places, assignments_valid_at(at))
        .filter(Q(group__isnull=True) | Q(group_id__in=group_ids))
        .select_related("tariff")
    )
    site = station.site
    if site is not None and site.organization_id is not None:
        # A tariff belongs to the organization running the site; another's assignment is ignored.
        candidates = candidates.filter(tariff__organization_id=site.organization_id)

    def rank(assignment: TariffAssignment) -> tuple[int, int, datetime, int]:
        valid_from = assignment.valid_from or datetime.min.replace(tzinfo=at.tzinfo)
        return (_specificity(assignment), assignment.group_id is not None, valid_from, assignment.pk)

    best = max(candidates, key=rank, default=None)
    return best.tariff if best is not None else None


def tariff_for(
    *, station: Station, connector: Connector | None, id_token_pk: int | None, at: datetime
) -> Tariff | None:
    """Return the tariff for a charge with this card (None: an unknown card) at `at`."""
    groups = id_token_group_ids(id_token_pk) if id_token_pk is not None else set()
    return tariff_for_groups(station=station, connector=connector, group_ids=groups, at=at)


def user_group_ids(user: User) -> set[int]:
    """Return the access groups a driver is in, through any of their cards or their email address."""
    groups: set[int] = set()
    for token_pk in IdToken.objects.filter(owner=user).values_list("pk", flat=True):
        groups |= id_token_group_ids(token_pk)
    if user.email:
        members = AccessGroupMember.objects.filter(email__iexact=user.email)
        groups.update(members.values_list("group_id", flat=True))
    return groups


@transaction.atomic
def tariff_revision_bump(*, tariff: Tariff) -> Tariff:
    """Mark the tariff as changed, so that prices computed from now on name the new revision."""
    Tariff.objects.filter(pk=tariff.pk).update(revision=F("revision") + 1)
    tariff.refresh_from_db(fields=["revision"])
    return tariff


def tariff_terms(tariff: Tariff) -> TariffTerms:
    """Read a tariff and its bands; overlapping bands: the earliest start (then the oldest) wins."""
    bands = tuple(
        Band(
            label=band.label,
            days=frozenset(weekdays_parse(band.weekdays)),
            start=band.window_start,
            end=band.window_end,
            energy_price_per_kwh=band.energy_price_per_kwh,
            time_price_per_min=band.time_price_per_min,
        )
        for band in tariff.bands.order_by("window_start", "pk")
    )
    return TariffTerms(
        name=tariff.name,
        currency=tariff.currency.upper(),
        energy_price_per_kwh=Decimal(tariff.energy_price_per_kwh),
        time_price_per_min=Decimal(tariff.time_price_per_min),
        session_fee=Decimal(tariff.session_fee),
        idle_price_per_min=Decimal(tariff.idle_price_per_min),
        idle_grace_min=tariff.idle_grace_min,
        tax_rate_percent=Decimal(tariff.tax_rate_percent),
        prices_include_tax=tariff.prices_include_tax,
        revision=tariff.revision,
        bands=bands,
        idle_from_suspended_ev=tariff.idle_from_suspended_ev,
    )


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def terms_snapshot(terms: TariffTerms) -> dict[str, Any]:
    """Return the terms as JSON-safe data (Decimals as strings), as a priced session keeps them."""
    return {
        "name": terms.name,
        "currency": terms.currency,
        "energy_price_per_kwh": str(terms.energy_price_per_kwh),
        "time_price_per_min": str(terms.time_price_per_min),
        "session_fee": str(terms.session_fee),
        "idle_price_per_min": str(terms.idle_price_per_min),
        "idle_grace_min": terms.idle_grace_min,
        "tax_rate_percent": str(terms.tax_rate_percent),
        "prices_include_tax": terms.prices_include_tax,
        "revision": terms.revision,
        "idle_from_suspended_ev": terms.idle_from_suspended_ev,
        "bands": [
            {
                "label": band.label,
                "weekdays": "".join(str(day) for day in sorted(band.days)),
                "window_start": band.start.isoformat(),
                "window_end": band.end.isoformat(),
                "energy_price_per_kwh": _str_or_none(band.energy_price_per_kwh),
                "time_price_per_min": _str_or_none(band.time_price_per_min),
            }
            for band in terms.bands
        ],
    }


def terms_from_snapshot(snapshot: dict[str, Any]) -> TariffTerms:
    """Read terms back from a snapshot made by `terms_snapshot`."""
    return TariffTerms(
        name=snapshot["name"],
        currency=snapshot["currency"],
        energy_price_per_kwh=Decimal(snapshot["energy_price_per_kwh"]),
        time_price_per_min=Decimal(snapshot["time_price_per_min"]),
        session_fee=Decimal(snapshot["session_fee"]),
        idle_price_per_min=Decimal(snapshot["idle_price_per_min"]),
        idle_grace_min=int(snapshot["idle_grace_min"]),
        tax_rate_percent=Decimal(snapshot["tax_rate_percent"]),
        prices_include_tax=bool(snapshot["prices_include_tax"]),
        revision=int(snapshot["revision"]),
        bands=tuple(
            Band(
                label=band["label"],
                days=frozenset(weekdays_parse(band["weekdays"])),
                start=time.fromisoformat(band["window_start"]),
                end=time.fromisoformat(band["window_end"]),
                energy_price_per_kwh=_decimal_or_none(band["energy_price_per_kwh"]),
                time_price_per_min=_decimal_or_none(band["time_price_per_min"]),
            )
            for band in snapshot["bands"]
        ),
        # Snapshots taken before the option existed started idle time when charging ended.
        idle_from_suspended_ev=bool(snapshot.get("idle_from_suspended_ev", False)),
    )


def band_close(band: Band, at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the band's window holding `at` closes, or None if `at` is outside the band."""
    return window_close(days=set(band.days), start=band.start, end=band.end, at=at, zone=zone)


def rates_at(terms: TariffTerms, at: datetime, zone: ZoneInfo) -> Rates:
    """Return the prices in force at `at`: the first band holding it, else the tariff's own."""
    for band in terms.bands:
        if band_close(band, at, zone) is not None:
            return Rates(
                band=band,
                energy_price_per_kwh=terms.energy_price_per_kwh
                if band.energy_price_per_kwh is None
                else band.energy_price_per_kwh,
                time_price_per_min=terms.time_price_per_min
                if band.time_price_per_min is None
                else band.time_price_per_min,
            )
    return Rates(
        band=None,
        energy_price_per_kwh=terms.energy_price_per_kwh,
        time_price_per_min=terms.time_price_per_min,
    )


def tariff_for_session(session: ChargingSession) -> Tariff | None:
    """The tariff in force at the session's start, which prices all of it."""
    assert session.started_at is not None  # the callers return early for a session not started
    return tariff_for(
        station=session.station,
        connector=session.connector,
        id_token_pk=session.id_token_id,
        at=session.started_at,
    )
