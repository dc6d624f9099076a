"""A station's device model (OCPP 2.0.1 components and variables), as its reports describe it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from stations.domain import DeviceVariableData
from stations.models import DEVICE_VARIABLE_KEY, DeviceVariable


def device_model_report(*, station_id: int, entries: list[DeviceVariableData], reported_at: datetime) -> int:
    """Store the reported attributes, replacing what earlier reports said of the same ones. A report
    comes in several messages (seqNo); each adds its part."""
    # The same attribute twice in one report: the last one counts (one row may be upserted only once).
    latest = {tuple(asdict(e)[f] for f in DEVICE_VARIABLE_KEY[1:]): e for e in entries}
    rows = [
        DeviceVariable(station_id=station_id, reported_at=reported_at, **asdict(e)) for e in latest.values()
    ]
    DeviceVariable.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=DEVICE_VARIABLE_KEY,
        update_fields=["value", "mutability", "data_type", "unit", "values_list", "reported_at"],
    )
    return len(rows)
