"""2.0.1 NotifyEvent, and SecurityEventNotification (2.0.1 and the 1.6 security extension), in our words
(stations.alerts.domain)."""

from __future__ import annotations

from typing import Any

from stations.alerts.domain import DeviceEvent, SecurityEvent
from stations.ocpp.base import parse_timestamp

TRIGGERS_201 = {"Alerting": "alerting", "Delta": "delta", "Periodic": "periodic"}


def device_events(p: dict[str, Any]) -> list[DeviceEvent]:
    """The eventData of a NotifyEvent (a validated payload)."""
    events = []
    for data in p.get("eventData", []):
        component, variable = data["component"], data["variable"]
        events.append(
            DeviceEvent(
                event_id=data["eventId"],
                occurred_at=parse_timestamp(data["timestamp"], "timestamp"),
                trigger=TRIGGERS_201.get(data["trigger"], data["trigger"].lower()),
                component=_named(component),
                variable=_named(variable),
                actual_value=data.get("actualValue", ""),
                evse_id=component.get("evse", {}).get("id"),
                cleared=bool(data.get("cleared", False)),
                tech_code=data.get("techCode", ""),
                tech_info=data.get("techInfo", ""),
                notification_type=data.get("eventNotificationType", ""),
            )
        )
    return events


def _named(element: dict[str, Any]) -> str:
    return f"{element['name']}[{element['instance']}]" if element.get("instance") else element["name"]


def security_event(p: dict[str, Any]) -> SecurityEvent:
    return SecurityEvent(
        type=p["type"],
        occurred_at=parse_timestamp(p["timestamp"], "timestamp"),
        tech_info=p.get("techInfo", ""),
    )
