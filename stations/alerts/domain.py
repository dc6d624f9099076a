"""Alert vocabulary: kinds, severities, and the charger events the adapters hand over."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models


class AlertKind(models.TextChoices):
    FAULT = "fault", "Fault"
    OFFLINE = "offline", "Offline"
    STUCK_SESSION = "stuck_session", "Stuck session"
    BOOT_FAILED = "boot_failed", "Failed boots"
    RECONNECTS = "reconnects", "Repeated reconnects"
    SECURITY_EVENT = "security_event", "Security event"
    CONFIG_DRIFT = "config_drift", "Configuration drift"
    HEARTBEAT_INTERVAL = "heartbeat_interval", "Heartbeat interval"
    FIRMWARE_BEHIND = "firmware_behind", "Firmware behind"
    FIRMWARE_FAILED = "firmware_failed", "Firmware update failed"
    DIAGNOSTICS_FAILED = "diagnostics_failed", "Diagnostics failed"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Attempt(models.TextChoices):
    """What happened when a charger connected or booted (kept a day, to count repetitions)."""

    CONNECTED = "connected", "Connected"
    UNKNOWN_IDENTITY = "unknown_identity", "Refused: unknown identity"
    WRONG_PASSWORD = "wrong_password", "Refused: wrong password"
    BOOT_ACCEPTED = "boot_accepted", "Boot accepted"
    BOOT_PENDING = "boot_pending", "Boot pending"
    BOOT_REJECTED = "boot_rejected", "Boot rejected"


class NotificationEvent(models.TextChoices):
    OPENED = "opened", "Opened"
    CLOSED = "closed", "Closed"


@dataclass(frozen=True)
class DeviceEvent:
    """One event a 2.0.1 charger reports (NotifyEvent eventData), in our words."""

    event_id: int
    occurred_at: datetime
    trigger: str  # alerting, delta, periodic
    component: str
    variable: str
    actual_value: str
    evse_id: int | None = None
    cleared: bool = False
    tech_code: str = ""
    tech_info: str = ""
    notification_type: str = ""

    @property
    def is_problem(self) -> bool:
        """A component's Problem variable set, or a monitor's alert that has not cleared."""
        if self.variable == "Problem":
            return not self.cleared and self.actual_value.lower() == "true"
        return self.trigger == "alerting" and not self.cleared


@dataclass(frozen=True)
class SecurityEvent:
    """A SecurityEventNotification (2.0.1, 1.6 security extension): type, time, the charger's free text."""

    type: str
    occurred_at: datetime
    tech_info: str = ""
    extra: dict[str, str] = field(default_factory=dict)
