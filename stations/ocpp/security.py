"""The messages 2.0.1 and the OCPP 1.6 security extension share, handled once for both adapters:
SecurityEventNotification, LogStatusNotification, and the firmware report naming its request (2.0.1
FirmwareStatusNotification, 1.6 SignedFirmwareStatusNotification), which also serves 1.6's core
FirmwareStatusNotification, one without a request id."""

from __future__ import annotations

from typing import Any

from stations.alerts.detectors import security_event_record
from stations.diagnostics.services import diagnostics_status_record
from stations.firmware.progress import firmware_status_record
from stations.ocpp import logs
from stations.ocpp.events import security_event
from stations.ocpp.firmware import CHARGER_STATUS
from stations.services import registry


class SecurityMessages:
    """Handlers for a ProtocolAdapter: its `handlers` name them."""

    station_id: int

    def security_event_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        security_event_record(station_id=self.station_id, event=security_event(p))
        return {}

    def log_status_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        registry.station_report_update(station_id=self.station_id, diagnostics_status=p["status"])
        diagnostics_status_record(
            station_id=self.station_id,
            status=logs.log_status("LogStatusNotification", p["status"]),
            request_id=p.get("requestId"),
        )
        return {}

    def firmware_status_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        registry.station_report_update(station_id=self.station_id, firmware_status=p["status"])
        firmware_status_record(
            station_id=self.station_id, status=CHARGER_STATUS.get(p["status"]), request_id=p.get("requestId")
        )
        return {}
