"""OCPP 1.6J: charger messages mapped onto the domain services, and back."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.utils import timezone

from accounts.domain import Authorization, AuthorizationStatus
from stations.diagnostics.services import diagnostics_status_record
from stations.domain import (
    CallStatus,
    ConnectorStatus,
    LocalListEntryData,
    LocalListUpdateStatus,
    MeterReading,
    RegistrationStatus,
    StationInfo,
    StopReason,
)
from stations.firmware.progress import firmware_boot_record
from stations.models import OutgoingCall
from stations.ocpp import base, logs, profiles
from stations.ocpp.base import ProtocolAdapter, format_timestamp, parse_timestamp
from stations.ocpp.framing import ErrorKind, FrameError
from stations.ocpp.security import SecurityMessages
from stations.services import registry, sessions
from stations.services.access import access_authorize

STATUS_16 = {
    "Available": ConnectorStatus.AVAILABLE,
    "Preparing": ConnectorStatus.PREPARING,
    "Charging": ConnectorStatus.CHARGING,
    "SuspendedEV": ConnectorStatus.SUSPENDED_EV,
    "SuspendedEVSE": ConnectorStatus.SUSPENDED_EVSE,
    "Finishing": ConnectorStatus.FINISHING,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}
AUTHORIZATION_16 = {
    AuthorizationStatus.ACCEPTED: "Accepted",
    AuthorizationStatus.BLOCKED: "Blocked",
    AuthorizationStatus.EXPIRED: "Expired",
    AuthorizationStatus.INVALID: "Invalid",
    AuthorizationStatus.CONCURRENT_TX: "ConcurrentTx",
    # 1.6 has no words for access rules; SteVe and others answer Invalid too.
    AuthorizationStatus.NOT_AT_THIS_LOCATION: "Invalid",
    AuthorizationStatus.NOT_AT_THIS_TIME: "Invalid",
}
REGISTRATION_16 = {
    RegistrationStatus.ACCEPTED: "Accepted",
    RegistrationStatus.PENDING: "Pending",
    RegistrationStatus.REJECTED: "Rejected",
}
STOP_REASON_16 = {
    "EmergencyStop": StopReason.EMERGENCY_STOP,
    "EVDisconnected": StopReason.EV_DISCONNECTED,
    "HardReset": StopReason.HARD_RESET,
    "Local": StopReason.LOCAL,
    "Other": StopReason.OTHER,
    "PowerLoss": StopReason.POWER_LOSS,
    "Reboot": StopReason.REBOOT,
    "Remote": StopReason.REMOTE,
    "SoftReset": StopReason.SOFT_RESET,
    "UnlockCommand": StopReason.UNLOCK_COMMAND,
    "DeAuthorized": StopReason.DE_AUTHORIZED,
}
LOCAL_LIST_UPDATE_16 = {
    "Accepted": LocalListUpdateStatus.ACCEPTED,
    "Failed": LocalListUpdateStatus.FAILED,
    "NotSupported": LocalListUpdateStatus.NOT_SUPPORTED,
    "VersionMismatch": LocalListUpdateStatus.VERSION_MISMATCH,
}
ERROR_CODES_16 = {
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.INTERNAL: "InternalError",
    ErrorKind.PROTOCOL: "ProtocolError",
    ErrorKind.SECURITY: "SecurityError",
    ErrorKind.FORMAT: "FormationViolation",
    ErrorKind.RPC_FRAMEWORK: "FormationViolation",
    ErrorKind.PROPERTY: "PropertyConstraintViolation",
    ErrorKind.OCCURRENCE: "OccurenceConstraintViolation",  # sic: the 1.6 spelling
    ErrorKind.MISSING: "ProtocolError",  # 1.6: "Payload for Action is incomplete"
    ErrorKind.TYPE: "TypeConstraintViolation",
    ErrorKind.GENERIC: "GenericError",
}


def id_tag_info(authorization: Authorization) -> dict[str, Any]:
    info: dict[str, Any] = {"status": AUTHORIZATION_16[authorization.status]}
    if authorization.expires_at is not None:
        info["expiryDate"] = format_timestamp(authorization.expires_at)
    if authorization.parent_id_tag:
        info["parentIdTag"] = authorization.parent_id_tag
    return info


def local_authorization_data(entry: LocalListEntryData) -> dict[str, Any]:
    """A local list entry as SendLocalList.req carries it: idTag with the idTagInfo a charger answers."""
    info: dict[str, Any] = {"status": AUTHORIZATION_16[entry.status]}
    if entry.expires_at is not None:
        info["expiryDate"] = format_timestamp(entry.expires_at)
    if entry.parent_id_tag:
        info["parentIdTag"] = entry.parent_id_tag
    return {"idTag": entry.id_tag, "idTagInfo": info}


def positive_int(value: object) -> int | None:
    """A configuration value that must be a whole number above 0, or None."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def sampled_number(sampled: dict[str, Any]) -> tuple[Decimal, str] | None:
    """A 1.6 sampledValue's value (a string) and unit; None for signed data or an unreadable value."""
    if sampled.get("format") == "SignedData":
        return None  # a signed blob, kept in the journal; not a number
    try:
        return Decimal(sampled["value"]), sampled.get("unit", "Wh")
    except InvalidOperation:
        return None


def meter_reading(meter_values: list[dict[str, Any]]) -> MeterReading:
    return base.meter_reading(meter_values, sampled_number)


class Ocpp16(SecurityMessages, ProtocolAdapter):
    subprotocol = "ocpp1.6"
    schema_version = "1.6"
    error_codes = ERROR_CODES_16
    handlers = {
        "BootNotification": "boot_notification",
        "Heartbeat": "heartbeat",
        "StatusNotification": "status_notification",
        "Authorize": "authorize",
        "StartTransaction": "start_transaction",
        "StopTransaction": "stop_transaction",
        "MeterValues": "meter_values",
        "DataTransfer": "data_transfer",
        "DiagnosticsStatusNotification": "diagnostics_status_notification",
        "FirmwareStatusNotification": "firmware_status_notification",
        # The security extension (OCPP 1.6 Security Whitepaper)
        "SecurityEventNotification": "security_event_notification",
        "LogStatusNotification": "log_status_notification",
        "SignedFirmwareStatusNotification": "firmware_status_notification",
    }
    csms_actions = frozenset(
        {
            "CancelReservation",
            "ChangeAvailability",
            "ChangeConfiguration",
            "ClearCache",
            "ClearChargingProfile",
            "DataTransfer",
            "GetCompositeSchedule",
            "GetConfiguration",
            "GetDiagnostics",
            "GetLocalListVersion",
            "GetLog",
            "RemoteStartTransaction",
            "RemoteStopTransaction",
            "ReserveNow",
            "Reset",
            "SendLocalList",
            "SetChargingProfile",
            "SignedUpdateFirmware",
            "TriggerMessage",
            "UnlockConnector",
            "UpdateFirmware",
        }
    )
    needs_acceptance = frozenset({"Authorize", "StartTransaction", "StopTransaction", "MeterValues"})
    id_tag_max_length: ClassVar[int] = 20  # idTag and parentIdTag are CiString20Type

    # --- local authorization list (Local Auth List Management profile) ------------------------
    @classmethod
    def local_list_update_call(
        cls, *, version: int, full: bool, entries: Sequence[LocalListEntryData], removed: Sequence[str] = ()
    ) -> tuple[str, dict[str, Any]]:
        """SendLocalList.req; a differential entry without idTagInfo removes that idTag."""
        items = [local_authorization_data(entry) for entry in entries] + [{"idTag": tag} for tag in removed]
        payload: dict[str, Any] = {"listVersion": version, "updateType": "Full" if full else "Differential"}
        if items:
            payload["localAuthorizationList"] = items
        return "SendLocalList", payload

    @classmethod
    def local_list_update_status(cls, answer: dict[str, Any]) -> LocalListUpdateStatus | None:
        """SendLocalList.conf's status; None for an answer that is not one."""
        return LOCAL_LIST_UPDATE_16.get(str(answer.get("status")))

    @classmethod
    def local_list_version(cls, answer: dict[str, Any]) -> int | None:
        """GetLocalListVersion.conf's listVersion: 0 no list, -1 no support for lists."""
        return base.answer_integer(answer, "listVersion")

    @classmethod
    def local_list_max_items(cls, *, station_id: int) -> int | None:
        """SendLocalListMaxLength as the charger last reported it to a GetConfiguration, if it did;
        asking for it is left to staff (Read configuration)."""
        answers = (
            OutgoingCall.objects.filter(
                station_id=station_id, action="GetConfiguration", status=CallStatus.ANSWERED
            )
            .order_by("-completed_at", "-id")
            .values_list("response", flat=True)
        )
        for answer in answers[:50]:
            for key in (answer or {}).get("configurationKey", []):
                if isinstance(key, dict) and key.get("key") == "SendLocalListMaxLength":
                    return positive_int(key.get("value"))
        return None

    def boot_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        info = StationInfo(
            vendor=p["chargePointVendor"],
            model=p["chargePointModel"],
            serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber", ""),
            firmware_version=p.get("firmwareVersion", ""),
            iccid=p.get("iccid", ""),
            imsi=p.get("imsi", ""),
            meter_type=p.get("meterType", ""),
            meter_serial_number=p.get("meterSerialNumber", ""),
        )
        decision = registry.station_boot(station_id=self.station_id, info=info)
        self.accepted = decision.status == RegistrationStatus.ACCEPTED
        if self.accepted:  # a boot during a firmware update tells which version it runs now
            firmware_boot_record(station_id=self.station_id, firmware_version=info.firmware_version)
        return {
            "status": REGISTRATION_16[decision.status],
            "currentTime": format_timestamp(decision.current_time),
            "interval": decision.interval_s,
        }

    def heartbeat(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": format_timestamp(timezone.now())}  # last seen: every message counts

    def status_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        connector_id = p["connectorId"]  # 0 is the charger as a whole
        occurred_at = parse_timestamp(p["timestamp"]) if "timestamp" in p else timezone.now()
        registry.connector_status_update(
            station_id=self.station_id,
            evse_id=connector_id or None,
            connector_id=1 if connector_id else None,
            status=STATUS_16[p["status"]],
            occurred_at=occurred_at,
            error_code="" if p["errorCode"] == "NoError" else p["errorCode"],
            info=p.get("info", ""),
            vendor_error_code=p.get("vendorErrorCode", ""),
        )
        return {}

    @classmethod
    def remote_start_call(cls, *, evse_id: int | None, id_tag: str) -> tuple[str, dict[str, Any]]:
        # 1.6 numbers each plug (connectorId) as 2.0.1 numbers EVSEs.
        payload: dict[str, Any] = {"idTag": id_tag}
        if evse_id:
            payload["connectorId"] = evse_id
        return "RemoteStartTransaction", payload

    @classmethod
    def remote_stop_call(cls, external_id: str) -> tuple[str, dict[str, Any]] | None:
        # 1.6 transactionId is the integer the CSMS gave in StartTransaction.conf.
        if not external_id.isdigit():
            return None
        return "RemoteStopTransaction", {"transactionId": int(external_id)}

    # Charging profiles (load balancing): built in stations/ocpp/profiles.py.
    charging_profile_call = staticmethod(profiles.set_profile_16)
    clear_charging_profile_call = staticmethod(profiles.clear_profile_16)
    composite_schedule_call = staticmethod(profiles.composite_16)
    composite_limit = staticmethod(profiles.composite_limit_16)

    def authorize(self, p: dict[str, Any]) -> dict[str, Any]:
        authorization = access_authorize(station_id=self.station_id, id_tag=p["idTag"], at=timezone.now())
        return {"idTagInfo": id_tag_info(authorization)}

    def start_transaction(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["connectorId"] < 1:
            raise FrameError(
                ErrorKind.PROPERTY, "connectorId: a transaction needs a connector greater than 0."
            )
        outcome = sessions.session_start(
            station_id=self.station_id,
            evse_id=p["connectorId"],
            connector_id=1,
            id_tag=p["idTag"],
            meter_start_wh=p["meterStart"],
            started_at=parse_timestamp(p["timestamp"]),
            reservation_id=p.get("reservationId"),
        )
        authorization = outcome.authorization or Authorization(status=AuthorizationStatus.INVALID)  # idTag ""
        self.sessions_known.update(
            {str(outcome.session.pk): outcome.session.pk, p["connectorId"]: outcome.session.pk}
        )
        return {"transactionId": outcome.session.pk, "idTagInfo": id_tag_info(authorization)}

    def stop_transaction(self, p: dict[str, Any]) -> dict[str, Any]:
        external_id = str(p["transactionId"])
        outcome = sessions.session_stop(
            station_id=self.station_id,
            external_id=external_id,
            meter_stop_wh=p["meterStop"],
            stopped_at=parse_timestamp(p["timestamp"]),
            reason=STOP_REASON_16[p.get("reason", "Local")],
            id_tag=p.get("idTag", ""),
            reading=meter_reading(p.get("transactionData", [])),
        )
        self.sessions_known.clear()  # the stop names no connector; the next lookups refill this
        return {"idTagInfo": id_tag_info(outcome.authorization)} if outcome.authorization else {}

    def meter_values(self, p: dict[str, Any]) -> dict[str, Any]:
        transaction_id = p.get("transactionId")
        sessions.session_meter_record(
            station_id=self.station_id,
            evse_id=p["connectorId"],
            reading=meter_reading(p["meterValue"]),
            session_id=self.session_id(
                evse_id=p["connectorId"], external_id=None if transaction_id is None else str(transaction_id)
            ),
        )
        return {}

    def data_transfer(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": "UnknownVendorId"}  # no vendor extensions yet; the frame is in the journal

    def diagnostics_status_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        registry.station_report_update(station_id=self.station_id, diagnostics_status=p["status"])
        diagnostics_status_record(
            station_id=self.station_id, status=logs.log_status("DiagnosticsStatusNotification", p["status"])
        )
        return {}
