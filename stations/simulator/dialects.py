"""What a simulated charger says, per OCPP version: the same charger and sessions, other messages.

The charger and its connectors keep 1.6's vocabulary inside (statuses, stop reasons, sampled values);
a dialect turns it into the messages of its version and reads the answers back.
"""

from __future__ import annotations

import itertools
import uuid
import zlib
from typing import TYPE_CHECKING, Any

from stations.simulator.connector import CHARGING_STATES
from stations.simulator.handlers import HANDLERS as HANDLERS_16
from stations.simulator.handlers import Handler
from stations.simulator.handlers201 import HANDLERS as HANDLERS_201
from stations.simulator.meter import timestamp

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger
    from stations.simulator.connector import Connector

VENDOR, MODEL, FIRMWARE = "CSMS-Sim", "Virtual AC 22", "1.0.0"


def serial_number(identity: str) -> str:
    return f"VAC22-{zlib.crc32(identity.encode()):08X}"


class Dialect16:
    version = "1.6"
    subprotocol = "ocpp1.6"
    call_handlers: dict[str, Handler] = HANDLERS_16  # answers to the CSMS's calls
    diagnostics_status_action = "DiagnosticsStatusNotification"

    def boot_payload(
        self, identity: str, firmware_version: str = FIRMWARE, reason: str = "PowerUp"
    ) -> dict[str, Any]:
        serial = serial_number(identity)  # 1.6's BootNotification has no reason
        return {
            "chargePointVendor": VENDOR,
            "chargePointModel": MODEL,
            "chargePointSerialNumber": serial,
            "firmwareVersion": firmware_version,
            "meterType": "Virtual AC meter",
            "meterSerialNumber": f"M-{serial}",
        }

    def status_payload(self, connector_id: int, status: str) -> dict[str, Any] | None:
        return {
            "connectorId": connector_id,
            "errorCode": "NoError",
            "status": status,
            "timestamp": timestamp(),
        }

    async def authorize(self, charger: SimulatedCharger, id_tag: str) -> str:
        answer = await charger.call("Authorize", {"idTag": id_tag}, persistent=True)
        return str(answer["idTagInfo"]["status"])

    async def start(self, connector: Connector, id_tag: str, begin: dict[str, Any]) -> tuple[Any, str]:
        """Start the transaction; return its id and the token's status."""
        payload = {
            "connectorId": connector.connector_id,
            "idTag": id_tag,
            "meterStart": connector.meter.register_wh,
            "timestamp": begin["timestamp"],
        }
        started = await connector.charger.call("StartTransaction", payload, persistent=True)
        return started["transactionId"], str(started["idTagInfo"]["status"])

    async def charging_started(self, connector: Connector) -> None:
        pass  # StatusNotification Charging (or SuspendedEVSE) says it all

    async def charging_state_changed(self, connector: Connector, state: str) -> None:
        await connector.report(state)

    async def meter_values(self, connector: Connector, meter_value: dict[str, Any]) -> None:
        payload: dict[str, Any] = {"connectorId": connector.connector_id, "meterValue": [meter_value]}
        if connector.transaction_id is not None:
            payload["transactionId"] = connector.transaction_id
        # Periodic samples of a transaction are transaction messages: kept and resent after a reconnect.
        await connector.charger.call("MeterValues", payload, persistent=connector.transaction_id is not None)

    async def stop(
        self, connector: Connector, reason: str, begin: dict[str, Any], end: dict[str, Any]
    ) -> None:
        payload: dict[str, Any] = {
            "transactionId": connector.transaction_id,
            "meterStop": connector.meter.register_wh,
            "timestamp": end["timestamp"],
            "reason": reason,
            "transactionData": [begin, end],
        }
        if reason == "Local" and connector.id_tag:
            payload["idTag"] = connector.id_tag  # the driver presented the card again to stop
        await connector.charger.call("StopTransaction", payload, persistent=True)


# 1.6 connector statuses as 2.0.1 reports them (the charging state goes in TransactionEvent).
STATUS_201 = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}
STOP_REASON_201 = {"SoftReset": "ImmediateReset", "HardReset": "ImmediateReset", "UnlockCommand": "Other"}


def sampled_values_201(meter_value: dict[str, Any]) -> dict[str, Any]:
    """A 1.6 MeterValue as 2.0.1 writes it: numbers, and the unit in unitOfMeasure."""
    sampled = []
    for value in meter_value["sampledValue"]:
        entry = {k: v for k, v in value.items() if k in ("context", "measurand", "phase", "location")}
        sampled.append({"value": float(value["value"]), **entry, "unitOfMeasure": {"unit": value["unit"]}})
    return {"timestamp": meter_value["timestamp"], "sampledValue": sampled}


class Dialect201:
    """OCPP 2.0.1: one EVSE per connector (EVSE N, connector 1), transactions as TransactionEvents with
    the charger's own string ids."""

    version = "2.0.1"
    subprotocol = "ocpp2.0.1"
    call_handlers: dict[str, Handler] = HANDLERS_201
    diagnostics_status_action = "LogStatusNotification"

    def __init__(self) -> None:
        self.seq_no = itertools.count()

    def boot_payload(
        self, identity: str, firmware_version: str = FIRMWARE, reason: str = "PowerUp"
    ) -> dict[str, Any]:
        station = {
            "serialNumber": serial_number(identity),
            "model": MODEL,
            "vendorName": VENDOR,
            "firmwareVersion": firmware_version,
        }
        return {"reason": reason, "chargingStation": station}

    def status_payload(self, connector_id: int, status: str) -> dict[str, Any] | None:
        if connector_id == 0:
            return None  # 2.0.1 reports connectors only
        return {
            "timestamp": timestamp(),
            "connectorStatus": STATUS_201[status],
            "evseId": connector_id,
            "connectorId": 1,
        }

    async def authorize(self, charger: SimulatedCharger, id_tag: str) -> str:
        answer = await charger.call("Authorize", {"idToken": _id_token(id_tag)}, persistent=True)
        return str(answer["idTokenInfo"]["status"])

    async def start(self, connector: Connector, id_tag: str, begin: dict[str, Any]) -> tuple[Any, str]:
        transaction_id = str(uuid.uuid4())
        answer = await self._event(
            connector,
            "Started",
            "Authorized",
            {"transactionId": transaction_id, "chargingState": "EVConnected"},
            begin,
            idToken=_id_token(id_tag),
        )
        return transaction_id, str(answer.get("idTokenInfo", {}).get("status", "Accepted"))

    async def charging_started(self, connector: Connector) -> None:
        """The car is plugged in: the connector stays Occupied, the transaction's charging state changes."""
        await self.charging_state_changed(connector, connector.status)

    async def charging_state_changed(self, connector: Connector, state: str) -> None:
        """Charging, SuspendedEV or SuspendedEVSE: a TransactionEvent says it (still Occupied)."""
        connector.status = state
        meter_value = connector.meter.meter_value(["Energy.Active.Import.Register"], "Sample.Periodic")
        info = {"transactionId": connector.transaction_id, "chargingState": state}
        await self._event(connector, "Updated", "ChargingStateChanged", info, meter_value)

    async def meter_values(self, connector: Connector, meter_value: dict[str, Any]) -> None:
        if connector.transaction_id is None:
            payload = {"evseId": connector.connector_id, "meterValue": [sampled_values_201(meter_value)]}
            await connector.charger.call("MeterValues", payload)
            return
        info = {"transactionId": connector.transaction_id, "chargingState": _charging_state(connector)}
        await self._event(connector, "Updated", "MeterValuePeriodic", info, meter_value)

    async def stop(
        self, connector: Connector, reason: str, begin: dict[str, Any], end: dict[str, Any]
    ) -> None:
        info = {
            "transactionId": connector.transaction_id,
            "chargingState": "Idle",
            "stoppedReason": STOP_REASON_201.get(reason, reason),
        }
        trigger = (
            "RemoteStop" if reason == "Remote" else "StopAuthorized" if reason == "Local" else "EVDeparted"
        )
        await self._event(connector, "Ended", trigger, info, end)

    async def _event(
        self,
        connector: Connector,
        event_type: str,
        trigger: str,
        info: dict[str, Any],
        meter_value: dict[str, Any],
        **extra: Any,
    ) -> dict[str, Any]:
        payload = {
            "eventType": event_type,
            "timestamp": meter_value["timestamp"],
            "triggerReason": trigger,
            "seqNo": next(self.seq_no),
            "transactionInfo": info,
            "evse": {"id": connector.connector_id, "connectorId": 1},
            "meterValue": [sampled_values_201(meter_value)],
            **extra,
        }
        return await connector.charger.call("TransactionEvent", payload, persistent=True)


def _id_token(id_tag: str) -> dict[str, str]:
    return {"idToken": id_tag, "type": "ISO14443"}


def _charging_state(connector: Connector) -> str:
    """The 2.0.1 chargingState: the connector keeps 1.6's Charging, SuspendedEV and SuspendedEVSE."""
    return connector.status if connector.status in CHARGING_STATES else "EVConnected"


def dialect_for(version: str) -> Dialect16 | Dialect201:
    if version == "2.0.1":
        return Dialect201()
    return Dialect16()
