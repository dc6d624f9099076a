"""Local authorization lists: the cards a charger may accept on its own, kept in step with the cards,
groups and access rules of its site.

The charger's list is recorded as it last accepted it (`LocalListEntry`, `local_list_version`), so an
update sends only what changed. Each message has its own version: a long list goes in several, and
each one the charger accepts is recorded at once, so a failure half-way leaves an exact record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.domain import AuthorizationStatus
from accounts.models import AccessGroupMember, IdToken, IdTokenStatus
from stations.domain import AccessPolicy, LocalListEntryData, LocalListUpdateStatus, RegistrationStatus
from stations.exceptions import CallRejected, StationError, StationOffline
from stations.models import AccessRule, LocalListEntry, Station
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.commands import station_call
from stations.ocpp.framing import ErrorKind
from stations.ocpp.v16 import Ocpp16
from stations.ocpp.v201 import Ocpp201
from stations.tasks import local_lists_sync_task

logger = logging.getLogger(__name__)

NOT_SUPPORTED = "The charger does not support local authorization lists."
REQUESTED_BY = "local list"
# Answers after which a differential update is retried as a full one: the charger's list is not the
# one recorded (it was reset, another system wrote it, or its answer to an earlier update was lost).
RETRY_FULL = frozenset({LocalListUpdateStatus.VERSION_MISMATCH, LocalListUpdateStatus.FAILED})

Adapter = type[Ocpp16] | type[Ocpp201]


@dataclass(frozen=True)
class LocalListUpdate:
    """One SendLocalList: the whole list, or the entries to add or change and the id tags to remove."""

    version: int
    full: bool
    entries: tuple[LocalListEntryData, ...] = ()
    removed: tuple[str, ...] = ()


def local_list_desired(station: Station, *, at: datetime | None = None) -> list[LocalListEntryData]:
    """Return the cards the charger should know, by id tag: those of the access groups that a rule of
    its site lets charge there, and at an open site those the site's organization issued.

    Public rules add nothing (a list cannot name "anyone"). Blocked and expired cards stay, with that
    status, so that the charger refuses them offline too."""
    site = station.site
    if site is None:
        return []
    groups = (
        AccessRule.objects.filter(site=site, group__isnull=False)
        .filter(Q(station__isnull=True) | Q(station=station))
        .values("group")
    )
    emails = AccessGroupMember.objects.filter(group__in=groups).values(lowered=Lower("email"))
    listed = Q(access_groups__in=groups) | Q(owner_email__in=emails)
    if site.access_policy == AccessPolicy.OPEN and site.organization_id is not None:
        listed |= Q(organization_id=site.organization_id)
    tokens = (
        IdToken.objects.alias(owner_email=Lower("owner__email")).filter(listed).distinct().order_by("id_tag")
    )
    now = at or timezone.now()
    return [
        LocalListEntryData(
            id_tag=token.id_tag,
            status=_status(token, now),
            expires_at=token.expires_at,
            parent_id_tag=token.parent_id_tag,
        )
        for token in tokens
    ]


def _status(token: IdToken, now: datetime) -> AuthorizationStatus:
    if token.status == IdTokenStatus.BLOCKED:
        return AuthorizationStatus.BLOCKED
    if token.is_expired(now):
        return AuthorizationStatus.EXPIRED
    return AuthorizationStatus.ACCEPTED


def local_list_sync(
    station: Station,
    *,
    full: bool = False,
    timeout: float | None = None,
    requested_by: str = REQUESTED_BY,
) -> bool:
    """Send the charger the changes to its local list (everything when `full`, at the first time, or
    when it holds none); tell whether it accepted them all. An offline charger is left for the next
    sweep; a refusal or an error is recorded in `local_list_error`."""
    adapter = _adapter(station)
    if adapter is None:
        return False
    desired = _keyed(_fitting(local_list_desired(station), adapter.id_tag_max_length))
    held = _held(station)
    if not full and station.local_list_version and desired == held:
        return False
    differential = not (full or station.local_list_version == 0 or not held)
    max_items = adapter.local_list_max_items(station_id=station.pk)
    try:
        updates = _updates(station.local_list_version, desired, held, full=not differential, size=max_items)
        status = _send_all(station, adapter, updates, timeout, requested_by)
        if differential and status in RETRY_FULL:
            updates = _updates(station.local_list_version, desired, {}, full=True, size=max_items)
            status = _send_all(station, adapter, updates, timeout, requested_by)
    except StationOffline:
        return False  # the next sweep finds it online again
    except StationError as error:
        _fail(station, _error_text(adapter, error))
        return False
    if status is not LocalListUpdateStatus.ACCEPTED:
        _fail(station, _refusal_text(status, station.local_list_version + 1))
    return status is LocalListUpdateStatus.ACCEPTED


def local_lists_sync(*, station_ids: Iterable[int] | None = None) -> int:
    """Sync the lists of the online, accepted chargers (of those ids when given); return how many
    accepted an update. Chargers that said they do not support lists are skipped: staff send them one
    with the admin command once they do."""
    stations = (
        Station.objects.filter(
            is_online=True, registration_status=RegistrationStatus.ACCEPTED, protocol__in=list(ADAPTERS)
        )
        .exclude(local_list_error=NOT_SUPPORTED)
        .select_related("site")
        .order_by("pk")
    )
    if station_ids is not None:
        stations = stations.filter(pk__in=list(station_ids))
    accepted = 0
    for station in stations:
        try:
            accepted += local_list_sync(station)
        except Exception:  # one charger's failure must not keep the others' lists stale
            logger.exception("%s: the local list could not be synced", station.identity)
    return accepted


def local_lists_sync_on_commit(*, station_ids: Iterable[int] | None = None) -> None:
    """Sync the chargers' lists once the current transaction commits (every online charger when no ids)."""
    ids = None if station_ids is None else list(station_ids)
    transaction.on_commit(lambda: local_lists_sync_task.delay(station_ids=ids))


def local_list_version_get(
    station: Station, *, timeout: float | None = None, requested_by: str = REQUESTED_BY
) -> int:
    """Ask the charger which version of the local list it holds (0: none; -1: 1.6 without list support)."""
    adapter = _adapter(station)
    if adapter is None:
        raise StationOffline(f"{station.identity} has never connected, so its OCPP version is unknown.")
    action, payload = adapter.local_list_version_call()
    answer = station_call(
        identity=station.identity, action=action, payload=payload, timeout=timeout, requested_by=requested_by
    )
    version = adapter.local_list_version(answer)
    if version is None:
        raise StationError(f"{station.identity} answered {action} with an unreadable {answer!r:.100}.")
    return version


def _adapter(station: Station) -> Adapter | None:
    adapter = ADAPTERS.get(station.protocol)
    return adapter if adapter is not None and issubclass(adapter, (Ocpp16, Ocpp201)) else None


def _fitting(entries: Iterable[LocalListEntryData], max_length: int) -> list[LocalListEntryData]:
    """Drop cards whose id tag the version cannot carry (1.6: 20 characters); a parent id tag too long
    is left out rather than the card."""
    return [
        entry if len(entry.parent_id_tag) <= max_length else replace(entry, parent_id_tag="")
        for entry in entries
        if len(entry.id_tag) <= max_length
    ]


def _keyed(entries: Iterable[LocalListEntryData]) -> dict[str, LocalListEntryData]:
    """Entries by id tag; chargers compare id tags ignoring case (CiString)."""
    return {entry.id_tag.lower(): entry for entry in entries}


def _held(station: Station) -> dict[str, LocalListEntryData]:
    return _keyed(
        LocalListEntryData(
            id_tag=row.id_tag,
            status=AuthorizationStatus(row.status),
            expires_at=row.expires_at,
            parent_id_tag=row.parent_id_tag,
        )
        for row in station.local_list.all()
    )


def _updates(
    version: int,
    desired: dict[str, LocalListEntryData],
    held: dict[str, LocalListEntryData],
    *,
    full: bool,
    size: int | None,
) -> list[LocalListUpdate]:
    """The messages that turn the held list into the desired one, each at most `size` entries long:
    a full update then differential ones with the rest, or differential ones only."""
    if full:
        items: list[LocalListEntryData | str] = list(desired.values())
    else:
        items = [entry for key, entry in desired.items() if held.get(key) != entry]
        items += [entry.id_tag for key, entry in held.items() if key not in desired]
    chunks = [items[i : i + size] for i in range(0, len(items), size)] if size else [items]
    return [
        LocalListUpdate(
            version=version + n,
            full=full and n == 1,
            entries=tuple(item for item in chunk if isinstance(item, LocalListEntryData)),
            removed=tuple(item for item in chunk if isinstance(item, str)),
        )
        for n, chunk in enumerate(chunks or [[]], start=1)
    ]


def _send_all(
    station: Station,
    adapter: Adapter,
    updates: Sequence[LocalListUpdate],
    timeout: float | None,
    requested_by: str,
) -> LocalListUpdateStatus | None:
    """Send the updates in turn, recording each the charger accepts; return the first other answer
    (None: unreadable), or Accepted."""
    for update in updates:
        action, payload = adapter.local_list_update_call(
            version=update.version, full=update.full, entries=update.entries, removed=update.removed
        )
        answer = station_call(
            identity=station.identity,
            action=action,
            payload=payload,
            timeout=timeout,
            requested_by=requested_by,
        )
        status = adapter.local_list_update_status(answer)
        if status is not LocalListUpdateStatus.ACCEPTED:
            return status
        _record(station, update)
    return LocalListUpdateStatus.ACCEPTED


@transaction.atomic
def _record(station: Station, update: LocalListUpdate) -> None:
    """Record an update the charger accepted: its entries and version."""
    if update.full:
        station.local_list.all().delete()
    else:
        keys = [entry.id_tag.lower() for entry in update.entries] + [tag.lower() for tag in update.removed]
        station.local_list.alias(key=Lower("id_tag")).filter(key__in=keys).delete()
    LocalListEntry.objects.bulk_create(
        [
            LocalListEntry(
                station=station,
                id_tag=entry.id_tag,
                status=entry.status,
                expires_at=entry.expires_at,
                parent_id_tag=entry.parent_id_tag,
            )
            for entry in update.entries
        ]
    )
    station.local_list_version = update.version
    station.local_list_synced_at = timezone.now()
    station.local_list_error = ""
    station.save(update_fields=["local_list_version", "local_list_synced_at", "local_list_error"])


def _error_text(adapter: Adapter, error: StationError) -> str:
    unsupported = {
        adapter.error_codes[ErrorKind.NOT_SUPPORTED],
        adapter.error_codes[ErrorKind.NOT_IMPLEMENTED],
    }
    if isinstance(error, CallRejected):
        return NOT_SUPPORTED if error.code in unsupported else f"The charger answered a CallError, {error}"
    return str(error)  # a timeout, or a payload its schema refuses


def _refusal_text(status: LocalListUpdateStatus | None, version: int) -> str:
    if status is None:
        return "The charger's answer to the list update could not be read."
    if status is LocalListUpdateStatus.NOT_SUPPORTED:
        return NOT_SUPPORTED
    return f"{status.label} (list version {version})."


def _fail(station: Station, error: str) -> None:
    station.local_list_error = error[:200]
    station.save(update_fields=["local_list_error"])
