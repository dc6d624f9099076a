"""A station's device model (OCPP 2.0.1 components and variables), as its reports describe it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from stations.domain import DeviceVariableData
from stations.models import DeviceVariable

KEY_FIELDS = [
    "station",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
]


def device_model_report(*, station_id: int, entries: list[DeviceVariableData], reported_at: datetime) -> int:
    """Store the reported attributes, replacing what earlier reports said of the same ones. A report
    comes in several messages (seqNo); each adds its part."""
    latest = {tuple(asdict(e)[f] for f in KEY_FIELDS[1:]): e for e in entries}  # a key twice: the last
    rows = [
        DeviceVariable(station_id=station_id, reported_at=reported_at, **asdict(e)) for e in latest.values()
    ]
    DeviceVariable.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=KEY_FIELDS,
        update_fields=["value", "mutability", "data_type", "unit", "values_list", "reported_at"],
    )
    return len(rows)
