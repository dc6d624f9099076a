"""OCPP 2.0.1 (and 2.1): charger messages mapped onto the same domain services as 1.6, and back.

Where 1.6 has Start/StopTransaction, 2.0.1 has TransactionEvent (Started / Updated / Ended) with the
charger's own string transaction id, kept as sent. Every event first makes sure the session exists
(session_start is idempotent by that id), so a retried or out-of-order event never makes a second one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.utils import timezone

from accounts.domain import Authorization, AuthorizationStatus
from stations.alerts.detectors import device_events_record
from stations.domain import (
    ConnectorStatus,
    DeviceVariableData,
    LocalListEntryData,
    LocalListUpdateStatus,
    MeterReading,
    RegistrationStatus,
    StationInfo,
    StopReason,
)
from stations.firmware.progress import firmware_boot_record
from stations.models import DeviceVariable
from stations.ocpp import base, profiles
from stations.ocpp.base import ProtocolAdapter, format_timestamp, parse_timestamp
from stations.ocpp.events import device_events
from stations.ocpp.framing import ErrorKind
from stations.ocpp.security import SecurityMessages
from stations.ocpp.v16 import positive_int
from stations.services import registry, sessions
from stations.services.access import access_authorize
from stations.services.device_model import device_model_report

STATUS_201 = {
    "Available": ConnectorStatus.AVAILABLE,
    "Occupied": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}
# TransactionEvent's chargingState refines Occupied.
CHARGING_STATE_201 = {
    "Charging": ConnectorStatus.CHARGING,
    "EVConnected": ConnectorStatus.PREPARING,
    "SuspendedEV": ConnectorStatus.SUSPENDED_EV,
    "SuspendedEVSE": ConnectorStatus.SUSPENDED_EVSE,
    "Idle": ConnectorStatus.FINISHING,
}
AUTHORIZATION_201 = {
    AuthorizationStatus.ACCEPTED: "Accepted",
    AuthorizationStatus.BLOCKED: "Blocked",
    AuthorizationStatus.EXPIRED: "Expired",
    AuthorizationStatus.INVALID: "Invalid",
    AuthorizationStatus.CONCURRENT_TX: "ConcurrentTx",
    AuthorizationStatus.NOT_AT_THIS_LOCATION: "NotAtThisLocation",
    AuthorizationStatus.NOT_AT_THIS_TIME: "NotAtThisTime",
}
REGISTRATION_201 = {
    RegistrationStatus.ACCEPTED: "Accepted",
    RegistrationStatus.PENDING: "Pending",
    RegistrationStatus.REJECTED: "Rejected",
}
STOP_REASON_201 = {
    "DeAuthorized": StopReason.DE_AUTHORIZED,
    "EmergencyStop": StopReason.EMERGENCY_STOP,
    "EnergyLimitReached": StopReason.ENERGY_LIMIT_REACHED,
    "EVDisconnected": StopReason.EV_DISCONNECTED,
    "GroundFault": StopReason.GROUND_FAULT,
    "ImmediateReset": StopReason.HARD_RESET,
    "Local": StopReason.LOCAL,
    "LocalOutOfCredit": StopReason.OUT_OF_CREDIT,
    "MasterPass": StopReason.MASTER_PASS,
    "Other": StopReason.OTHER,
    "OvercurrentFault": StopReason.OVERCURRENT_FAULT,
    "PowerLoss": StopReason.POWER_LOSS,
    "PowerQuality": StopReason.POWER_QUALITY,
    "Reboot": StopReason.REBOOT,
    "Remote": StopReason.REMOTE,
    "SOCLimitReached": StopReason.SOC_LIMIT_REACHED,
    "StoppedByEV": StopReason.STOPPED_BY_EV,
    "TimeLimitReached": StopReason.TIME_LIMIT_REACHED,
    "Timeout": StopReason.TIMEOUT,
}
# 1.6 configuration keys and the 2.0.1 component and variable that replaced them (OCPP 2.0.1 part 2,
# the standardized components), so that staff can keep the names they know.
VARIABLES_FOR_16_KEYS = {
    "AuthorizationCacheEnabled": ("AuthCacheCtrlr", "Enabled"),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart"),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval"),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut"),
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval"),
    "LocalAuthListEnabled": ("LocalAuthListCtrlr", "Enabled"),
    "LocalAuthListMaxLength": ("LocalAuthListCtrlr", "Entries"),
    "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline"),
    "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize"),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesAlignedData": ("AlignedDataCtrlr", "Measurands"),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "ResetRetries": ("OCPPCommCtrlr", "ResetRetries"),
    "SendLocalListMaxLength": ("LocalAuthListCtrlr", "ItemsPerMessage"),
    "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect"),
    "StopTransactionOnInvalidId": ("TxCtrlr", "StopTxOnInvalidId"),
    "StopTxnAlignedData": ("AlignedDataCtrlr", "TxEndedMeasurands"),
    "StopTxnSampledData": ("SampledDataCtrlr", "TxEndedMeasurands"),
    "TransactionMessageAttempts": ("OCPPCommCtrlr", "MessageAttempts"),
    "TransactionMessageRetryInterval": ("OCPPCommCtrlr", "MessageAttemptInterval"),
    "UnlockConnectorOnEVSideDisconnect": ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect"),
    "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval"),
}


def variable_for_key(key: str) -> dict[str, Any]:
    """A configuration key as 2.0.1 addresses it: "Component.Variable", or a 1.6 key's successor."""
    component, dot, variable = key.partition(".")
    if not dot:
        component, variable = VARIABLES_FOR_16_KEYS.get(key, ("OCPPCommCtrlr", key))
    return {"component": {"name": component}, "variable": {"name": variable}}


LOCAL_LIST_UPDATE_201 = {
    "Accepted": LocalListUpdateStatus.ACCEPTED,
    "Failed": LocalListUpdateStatus.FAILED,
    "VersionMismatch": LocalListUpdateStatus.VERSION_MISMATCH,
}
# Cards are RFID cards; a group id is one the CSMS made up.
LOCAL_LIST_TOKEN_TYPE = "ISO14443"
LOCAL_LIST_GROUP_TYPE = "Central"

ERROR_CODES_201 = {
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.INTERNAL: "InternalError",
    ErrorKind.PROTOCOL: "ProtocolError",
    ErrorKind.SECURITY: "SecurityError",
    ErrorKind.FORMAT: "FormatViolation",  # 1.6's FormationViolation
    ErrorKind.RPC_FRAMEWORK: "RpcFrameworkError",
    ErrorKind.PROPERTY: "PropertyConstraintViolation",
    ErrorKind.OCCURRENCE: "OccurrenceConstraintViolation",
    ErrorKind.MISSING: "OccurrenceConstraintViolation",  # a required field that does not occur
    ErrorKind.TYPE: "TypeConstraintViolation",
    ErrorKind.GENERIC: "GenericError",
}


def id_token_info(authorization: Authorization) -> dict[str, Any]:
    info: dict[str, Any] = {"status": AUTHORIZATION_201[authorization.status]}
    if authorization.expires_at is not None:
        info["cacheExpiryDateTime"] = format_timestamp(authorization.expires_at)
    if authorization.parent_id_tag:
        info["groupIdToken"] = {"idToken": authorization.parent_id_tag, "type": "Central"}
    return info


def local_authorization_data(entry: LocalListEntryData) -> dict[str, Any]:
    """A local list entry as SendLocalListRequest carries it: idToken with its idTokenInfo."""
    info: dict[str, Any] = {"status": AUTHORIZATION_201[entry.status]}
    if entry.expires_at is not None:
        info["cacheExpiryDateTime"] = format_timestamp(entry.expires_at)
    if entry.parent_id_tag:
        info["groupIdToken"] = {"idToken": entry.parent_id_tag, "type": LOCAL_LIST_GROUP_TYPE}
    return {"idToken": {"idToken": entry.id_tag, "type": LOCAL_LIST_TOKEN_TYPE}, "idTokenInfo": info}


def sampled_number(sampled: dict[str, Any]) -> tuple[Decimal, str]:
    """A 2.0.1 sampledValue's value (a number, times 10^multiplier) and unit."""
    unit = sampled.get("unitOfMeasure", {})
    return Decimal(str(sampled["value"])).scaleb(unit.get("multiplier", 0)), unit.get("unit", "Wh")


def meter_reading(meter_values: list[dict[str, Any]]) -> MeterReading:
    return base.meter_reading(meter_values, sampled_number)


def device_variables(report: dict[str, Any]) -> list[DeviceVariableData]:
    """One reportData entry: a component's variable with one or more attributes (Actual, Target, ...)."""
    component, variable = report["component"], report["variable"]
    evse = component.get("evse", {})
    characteristics = report.get("variableCharacteristics", {})
    return [
        DeviceVariableData(
            component=component["name"],
            component_instance=component.get("instance", ""),
            evse_id=evse.get("id", 0),
            connector_id=evse.get("connectorId", 0),
            variable=variable["name"],
            variable_instance=variable.get("instance", ""),
            attribute_type=attribute.get("type", "Actual"),
            value=attribute.get("value", ""),
            mutability=attribute.get("mutability", "ReadWrite"),
            data_type=characteristics.get("dataType", ""),
            unit=characteristics.get("unit", ""),
            values_list=characteristics.get("valuesList", ""),
        )
        for attribute in report["variableAttribute"]
    ]


class Ocpp201(SecurityMessages, ProtocolAdapter):
    subprotocol = "ocpp2.0.1"
    schema_version = "2.0.1"
    error_codes = ERROR_CODES_201
    handlers = {
        "BootNotification": "boot_notification",
        "Heartbeat": "heartbeat",
        "StatusNotification": "status_notification",
        "Authorize": "authorize",
        "TransactionEvent": "transaction_event",
        "MeterValues": "meter_values",
        "NotifyReport": "notify_report",
        "NotifyEvent": "notify_event",
        "SecurityEventNotification": "security_event_notification",
        "FirmwareStatusNotification": "firmware_status_notification",
        "LogStatusNotification": "log_status_notification",
        "DataTransfer": "data_transfer",
    }
    csms_actions = frozenset(
        {
            "CancelReservation",
            "ChangeAvailability",
            "ClearCache",
            "ClearChargingProfile",
            "DataTransfer",
            "GetBaseReport",
            "GetCompositeSchedule",
            "GetLocalListVersion",
            "GetLog",
            "GetVariables",
            "RequestStartTransaction",
            "RequestStopTransaction",
            "ReserveNow",
            "Reset",
            "SendLocalList",
            "SetChargingProfile",
            "SetVariables",
            "TriggerMessage",
            "UnlockConnector",
            "UpdateFirmware",
        }
    )
    needs_acceptance = frozenset({"Authorize", "TransactionEvent", "MeterValues"})
    id_tag_max_length: ClassVar[int] = 36  # IdTokenType.idToken

    # --- local authorization list (functional block D) ------------------------------------------
    @classmethod
    def local_list_update_call(
        cls, *, version: int, full: bool, entries: Sequence[LocalListEntryData], removed: Sequence[str] = ()
    ) -> tuple[str, dict[str, Any]]:
        """SendLocalListRequest; a differential entry without idTokenInfo removes that idToken."""
        items = [local_authorization_data(entry) for entry in entries] + [
            {"idToken": {"idToken": tag, "type": LOCAL_LIST_TOKEN_TYPE}} for tag in removed
        ]
        payload: dict[str, Any] = {"versionNumber": version, "updateType": "Full" if full else "Differential"}
        if items:  # the list has minItems 1: an empty full update leaves it out
            payload["localAuthorizationList"] = items
        return "SendLocalList", payload

    @classmethod
    def local_list_update_status(cls, answer: dict[str, Any]) -> LocalListUpdateStatus | None:
        """SendLocalListResponse's status (2.0.1 has no NotSupported: such a station sends a CALLERROR)."""
        return LOCAL_LIST_UPDATE_201.get(str(answer.get("status")))

    @classmethod
    def local_list_version(cls, answer: dict[str, Any]) -> int | None:
        """GetLocalListVersionResponse's versionNumber: 0 when the station holds no list."""
        return base.answer_integer(answer, "versionNumber")

    @classmethod
    def local_list_max_items(cls, *, station_id: int) -> int | None:
        """LocalAuthListCtrlr.ItemsPerMessage from the station's device model, if it reported it."""
        value = (
            DeviceVariable.objects.filter(
                station_id=station_id,
                component="LocalAuthListCtrlr",
                component_instance="",
                evse_id=0,
                variable="ItemsPerMessage",
                variable_instance="",
                attribute_type="Actual",
            )
            .values_list("value", flat=True)
            .first()
        )
        return positive_int(value)

    def boot_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        station = p["chargingStation"]
        modem = station.get("modem", {})
        info = StationInfo(
            vendor=station["vendorName"],
            model=station["model"],
            serial_number=station.get("serialNumber", ""),
            firmware_version=station.get("firmwareVersion", ""),
            iccid=modem.get("iccid", ""),
            imsi=modem.get("imsi", ""),
        )
        decision = registry.station_boot(station_id=self.station_id, info=info)
        self.accepted = decision.status == RegistrationStatus.ACCEPTED
        if self.accepted:
            # A boot during a firmware update tells which version it runs now.
            firmware_boot_record(station_id=self.station_id, firmware_version=info.firmware_version)
            # 2.0.1 has no status report for the station as a whole (1.6's connector 0): a station
            # that boots is operative until it reports a fault or is made unavailable.
            registry.connector_status_update(
                station_id=self.station_id,
                evse_id=None,
                connector_id=None,
                status=ConnectorStatus.AVAILABLE,
                occurred_at=decision.current_time,
            )
        return {
            "status": REGISTRATION_201[decision.status],
            "currentTime": format_timestamp(decision.current_time),
            "interval": decision.interval_s,
        }

    def heartbeat(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": format_timestamp(timezone.now())}

    def status_notification(self, p: dict[str, Any]) -> dict[str, Any]:
        registry.connector_status_update(
            station_id=self.station_id,
            evse_id=p["evseId"] or None,  # EVSE 0 is the station as a whole
            connector_id=p["connectorId"],
            status=STATUS_201[p["connectorStatus"]],
            occurred_at=parse_timestamp(p["timestamp"]),
        )
        return {}

    @classmethod
    def remote_start_call(cls, *, evse_id: int | None, id_tag: str) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {
            "idToken": {"idToken": id_tag, "type": "Central"},
            "remoteStartId": secrets.randbelow(2**31),  # echoed in the TransactionEvent it starts
        }
        if evse_id:
            payload["evseId"] = evse_id
        return "RequestStartTransaction", payload

    @classmethod
    def remote_stop_call(cls, external_id: str) -> tuple[str, dict[str, Any]] | None:
        return ("RequestStopTransaction", {"transactionId": external_id}) if external_id else None

    # Charging profiles (load balancing): built in stations/ocpp/profiles.py.
    charging_profile_call = staticmethod(profiles.set_profile_201)
    clear_charging_profile_call = staticmethod(profiles.clear_profile_201)
    composite_schedule_call = staticmethod(profiles.composite_201)
    composite_limit = staticmethod(profiles.composite_limit_201)

    def authorize(self, p: dict[str, Any]) -> dict[str, Any]:
        authorization = access_authorize(
            station_id=self.station_id, id_tag=p["idToken"]["idToken"], at=timezone.now()
        )
        return {"idTokenInfo": id_token_info(authorization)}

    def transaction_event(self, p: dict[str, Any]) -> dict[str, Any]:
        info = p["transactionInfo"]
        external_id = info["transactionId"]
        event = p["eventType"]
        at = parse_timestamp(p["timestamp"])
        reading = meter_reading(p.get("meterValue", []))
        id_tag = p.get("idToken", {}).get("idToken", "")
        evse = p.get("evse", {})
        started = sessions.session_start(  # finds the session of a retried or later event
            station_id=self.station_id,
            evse_id=evse.get("id", 0),
            connector_id=evse.get("connectorId", 1),
            id_tag=id_tag if event == "Started" else "",
            meter_start_wh=reading.energy_register_wh() if event == "Started" else None,
            started_at=at if event == "Started" else None,
            reservation_id=p.get("reservationId"),
            external_id=external_id,
        )
        session, connector = started.session, started.session.connector
        state = CHARGING_STATE_201.get(info.get("chargingState", ""))
        if state is not None and connector is not None and connector.status != state:
            # 2.0.1 reports the connector as Occupied; the charging state refines it, as 1.6 reports it.
            # Chargers repeat it in every event: only a change is a new status.
            registry.connector_status_update(
                station_id=self.station_id,
                evse_id=connector.evse_id,
                connector_id=connector.connector_id,
                status=state,
                occurred_at=at,
            )
        authorization = started.authorization if event == "Started" else None
        if id_tag and authorization is None:
            authorization = sessions.session_token_attach(session=session, id_tag=id_tag, at=at)
        if event == "Ended":
            stopped_reason = info.get("stoppedReason", "Local")
            sessions.session_stop(
                station_id=self.station_id,
                external_id=external_id,
                meter_stop_wh=reading.energy_register_wh(),
                stopped_at=at,
                reason=STOP_REASON_201.get(stopped_reason, StopReason.OTHER),  # 2.1 has more reasons
                reading=reading,
            )
            self.sessions_known.clear()  # the EVSE's next readings belong to no session, or a new one
        else:
            sessions.session_meter_record(
                station_id=self.station_id, evse_id=evse.get("id", 0), reading=reading, session_id=session.pk
            )
            self.sessions_known[connector.evse_id if connector else 0] = session.pk
        return {"idTokenInfo": id_token_info(authorization)} if authorization else {}

    def meter_values(self, p: dict[str, Any]) -> dict[str, Any]:
        sessions.session_meter_record(
            station_id=self.station_id,
            evse_id=p["evseId"],
            reading=meter_reading(p["meterValue"]),
            session_id=self.session_id(evse_id=p["evseId"], external_id=None) if p["evseId"] else None,
        )
        return {}

    def notify_report(self, p: dict[str, Any]) -> dict[str, Any]:
        device_model_report(
            station_id=self.station_id,
            entries=[entry for report in p.get("reportData", []) for entry in device_variables(report)],
            reported_at=parse_timestamp(p["generatedAt"], "generatedAt"),
        )
        return {}

    def notify_event(self, p: dict[str, Any]) -> dict[str, Any]:
        device_events_record(station_id=self.station_id, events=device_events(p))
        return {}

    def data_transfer(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": "UnknownVendorId"}


class Ocpp21(Ocpp201):
    """OCPP 2.1 keeps 2.0.1's messages (with optional additions) and validates against its own schemas;
    its new messages (bidirectional power, tariffs on the charger, ...) are answered NotImplemented."""

    subprotocol = "ocpp2.1"
    schema_version = "2.1"
