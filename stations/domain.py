"""Domain vocabulary of the gateway, shared by every OCPP version's adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import models

from accounts.domain import AuthorizationStatus


class RegistrationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class ConnectorStatus(models.TextChoices):
    """1.6 reports the fine-grained states; 2.0.1 reports Occupied plus a charging state."""

    AVAILABLE = "available", "Available"
    PREPARING = "preparing", "Preparing"
    CHARGING = "charging", "Charging"
    SUSPENDED_EV = "suspended_ev", "Suspended by EV"
    SUSPENDED_EVSE = "suspended_evse", "Suspended by charger"
    FINISHING = "finishing", "Finishing"
    OCCUPIED = "occupied", "Occupied"
    RESERVED = "reserved", "Reserved"
    UNAVAILABLE = "unavailable", "Unavailable"
    FAULTED = "faulted", "Faulted"
    UNKNOWN = "unknown", "Unknown"


class StopReason(models.TextChoices):
    LOCAL = "local", "Stopped at the charger"
    REMOTE = "remote", "Stopped remotely"
    EV_DISCONNECTED = "ev_disconnected", "EV disconnected"
    HARD_RESET = "hard_reset", "Hard reset"
    SOFT_RESET = "soft_reset", "Soft reset"
    REBOOT = "reboot", "Reboot"
    POWER_LOSS = "power_loss", "Power loss"
    EMERGENCY_STOP = "emergency_stop", "Emergency stop"
    DE_AUTHORIZED = "de_authorized", "De-authorized"
    UNLOCK_COMMAND = "unlock_command", "Unlock command"
    ENERGY_LIMIT_REACHED = "energy_limit", "Energy limit reached"
    GROUND_FAULT = "ground_fault", "Ground fault"
    OUT_OF_CREDIT = "out_of_credit", "Out of credit"
    MASTER_PASS = "master_pass", "Master pass"
    OVERCURRENT_FAULT = "overcurrent_fault", "Overcurrent fault"
    POWER_QUALITY = "power_quality", "Power quality"
    SOC_LIMIT_REACHED = "soc_limit", "State of charge limit reached"
    STOPPED_BY_EV = "stopped_by_ev", "Stopped by the EV"
    TIME_LIMIT_REACHED = "time_limit", "Time limit reached"
    TIMEOUT = "timeout", "Timed out"
    OTHER = "other", "Other"


class AccessPolicy(models.TextChoices):
    OPEN = "open", "Any accepted card, at any time"
    RESTRICTED = "restricted", "Only as the site's access rules allow"


class LocalListUpdateStatus(models.TextChoices):
    """A charger's answer to an update of its local authorization list."""

    ACCEPTED = "accepted", "Accepted"
    FAILED = "failed", "The charger could not apply the update"
    NOT_SUPPORTED = "not_supported", "The charger does not support local authorization lists"
    VERSION_MISMATCH = "version_mismatch", "The charger holds a list at least as new as the update"


class CallStatus(models.TextChoices):
    """Life of a CSMS-initiated call."""

    PENDING = "pending", "Pending"
    ANSWERED = "answered", "Answered"
    REJECTED = "rejected", "CallError"
    TIMEOUT = "timeout", "Timed out"
    OFFLINE = "offline", "Charger offline"


@dataclass(frozen=True)
class StationInfo:
    """What a charger says about itself at boot."""

    vendor: str
    model: str
    serial_number: str = ""
    firmware_version: str = ""
    iccid: str = ""
    imsi: str = ""
    meter_type: str = ""
    meter_serial_number: str = ""


@dataclass(frozen=True)
class BootDecision:
    status: RegistrationStatus
    interval_s: int
    current_time: datetime


@dataclass(frozen=True)
class MeterSampleData:
    sampled_at: datetime
    value: Decimal
    measurand: str = "Energy.Active.Import.Register"
    unit: str = "Wh"
    phase: str = ""
    context: str = "Sample.Periodic"
    location: str = ""


@dataclass
class MeterReading:
    """The samples of one MeterValues message (or of a stop's transaction data)."""

    samples: list[MeterSampleData] = field(default_factory=list)

    def energy_register_wh(self) -> int | None:
        """Return the last whole-charger imported-energy register reading, in Wh."""
        for sample in reversed(self.samples):
            if sample.measurand == "Energy.Active.Import.Register" and not sample.phase:
                factor = 1000 if sample.unit.lower() == "kwh" else 1
                return int(sample.value * factor)
        return None


@dataclass(frozen=True)
class DeviceVariableData:
    """One reported attribute of the device model (2.0.1 NotifyReport)."""

    component: str
    variable: str
    attribute_type: str = "Actual"
    value: str = ""
    component_instance: str = ""
    variable_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    mutability: str = ""
    data_type: str = ""
    unit: str = ""
    values_list: str = ""


@dataclass(frozen=True)
class LocalListEntryData:
    """A card on a charger's local authorization list, with the answer the charger gives on its own."""

    id_tag: str
    status: AuthorizationStatus  # accepted, blocked or expired
    expires_at: datetime | None = None
    parent_id_tag: str = ""
