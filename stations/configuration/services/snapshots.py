"""Read a charger's whole configuration and keep it as a snapshot.

1.6 answers GetConfiguration (no keys: all of them) at once. 2.0.1 answers GetBaseReport
FullInventory with Accepted and then sends NotifyReport messages, which the gateway stores as
DeviceVariable rows (and journals in the same transaction); the snapshot is taken from those rows once
the report's last message (tbc false) is in the journal.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.utils import timezone

from stations.configuration.models import ConfigurationSnapshot
from stations.configuration.services.keys import variable_key
from stations.exceptions import StationError, StationOffline
from stations.models import DeviceVariable, Direction, Frame, Station
from stations.ocpp.commands import each_at_once, station_call_async

REPORT_POLL_S = 0.2
# Chargers read at once: a 2.0.1 read polls the journal until its report is in.
READ_CONCURRENCY = 50
# The journal's clock and ours are the same server's; a little slack for the frame written before the
# CALLRESULT came back to us.
REPORT_SLACK = timedelta(seconds=2)


@dataclass
class SnapshotOutcome:
    station: Station
    snapshot: ConfigurationSnapshot | None = None
    error: str = ""  # why there is no snapshot: offline, timeout, refused
    offline: bool = False


def _snapshot_store(
    station: Station, values: dict[str, str], read_only: list[str], requested_by: str
) -> ConfigurationSnapshot:
    return ConfigurationSnapshot.objects.create(
        station=station,
        taken_at=timezone.now(),
        values=values,
        read_only=sorted(read_only),
        requested_by=requested_by[:150],
    )


def _report_complete(identity: str, request_id: int, since: datetime) -> bool:
    """Whether the journal holds the last NotifyReport of this request."""
    texts = Frame.objects.filter(
        identity=identity, direction=Direction.IN, action="NotifyReport", created_at__gte=since - REPORT_SLACK
    ).values_list("text", flat=True)
    for text in texts:
        try:
            payload = json.loads(text)[3]
        except (ValueError, IndexError, TypeError):
            continue
        if isinstance(payload, dict) and payload.get("requestId") == request_id and not payload.get("tbc"):
            return True
    return False


def _device_model_values(station: Station) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    read_only: list[str] = []
    for row in DeviceVariable.objects.filter(station=station, attribute_type="Actual"):
        key = variable_key(
            component=row.component,
            component_instance=row.component_instance,
            evse_id=row.evse_id,
            connector_id=row.connector_id,
            variable=row.variable,
            variable_instance=row.variable_instance,
        )
        values[key] = row.value
        if row.mutability == "ReadOnly":
            read_only.append(key)
    return values, read_only


async def _read_16(station: Station, timeout: float, requested_by: str) -> tuple[dict[str, str], list[str]]:
    answer = await station_call_async(
        identity=station.identity,
        action="GetConfiguration",
        payload={},
        timeout=timeout,
        requested_by=requested_by,
    )
    keys = answer.get("configurationKey") or []
    return {k["key"]: k.get("value", "") for k in keys}, [k["key"] for k in keys if k.get("readonly")]


async def _read_201(station: Station, timeout: float, requested_by: str) -> tuple[dict[str, str], list[str]]:
    request_id = secrets.randbelow(2**31)
    asked_at = timezone.now()
    answer = await station_call_async(
        identity=station.identity,
        action="GetBaseReport",
        payload={"requestId": request_id, "reportBase": "FullInventory"},
        timeout=timeout,
        requested_by=requested_by,
    )
    if answer.get("status") != "Accepted":
        raise StationError(f"{station.identity} answered GetBaseReport with {answer.get('status')}.")
    complete = database_sync_to_async(_report_complete)
    deadline = asyncio.get_running_loop().time() + timeout
    while not await complete(station.identity, request_id, asked_at):
        if asyncio.get_running_loop().time() > deadline:
            raise StationError(f"{station.identity} did not finish its NotifyReport within {timeout:g} s.")
        await asyncio.sleep(REPORT_POLL_S)
    return await database_sync_to_async(_device_model_values)(station)


async def snapshot_take_async(*, station: Station, timeout: float, requested_by: str) -> SnapshotOutcome:
    """Read the charger's configuration in its version's words and store it as a snapshot."""
    read = _read_16 if station.protocol == "ocpp1.6" else _read_201
    try:
        values, read_only = await read(station, timeout, requested_by)
    except StationOffline as error:
        return SnapshotOutcome(station, error=str(error), offline=True)
    except StationError as error:
        return SnapshotOutcome(station, error=str(error) or type(error).__name__)
    snapshot = await database_sync_to_async(_snapshot_store)(station, values, read_only, requested_by)
    return SnapshotOutcome(station, snapshot=snapshot)


def snapshots_take(
    *, stations: list[Station], timeout: float = 30.0, requested_by: str = ""
) -> list[SnapshotOutcome]:
    """Read every charger's configuration at once; one outcome per charger, in order."""

    slots = asyncio.Semaphore(READ_CONCURRENCY)  # bound to the loop that first waits on it

    async def take(station: Station) -> SnapshotOutcome:
        async with slots:
            return await snapshot_take_async(station=station, timeout=timeout, requested_by=requested_by)

    return each_at_once(take, stations)


def snapshot_latest(station: Station) -> ConfigurationSnapshot | None:
    return ConfigurationSnapshot.objects.filter(station=station).order_by("-taken_at", "-id").first()
