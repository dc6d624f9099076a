"""Answers to CSMS-initiated calls, as OCPP 1.6 section 5 asks of a charge point (handlers201.py: 2.0.1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from stations.simulator import charging_profiles, diagnostics, firmware, schemas
from stations.simulator.connector import Connector
from stations.simulator.link import Answer, CallTimeout, LinkClosed, Offline, Refusal
from stations.simulator.local_list import Item
from stations.simulator.smart_charging import Profile, ProfileRefused

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger

Handler = Callable[["SimulatedCharger", dict[str, Any]], Answer]


def _connector(charger: SimulatedCharger, connector_id: int) -> Connector | None:
    return charger.connectors.get(connector_id)


def reset(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return Answer({"status": "Accepted"}, then=lambda: charger.reset(p["type"]))


def remote_start_transaction(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    try:
        profile = charging_profiles.profile_from_16(p["chargingProfile"]) if "chargingProfile" in p else None
    except ProfileRefused as refusal:
        charger.log.info("remote start refused for its charging profile: %s", refusal)
        return Answer({"status": "Rejected"})
    return remote_start(charger, id_tag=p["idTag"], connector_id=p.get("connectorId"), profile=profile)


def remote_start(
    charger: SimulatedCharger, *, id_tag: str, connector_id: int | None, profile: Profile | None
) -> Answer:
    """Claim a free connector for a remote start of either version, with the TxProfile it may bring."""
    if connector_id is not None:
        connector = _connector(charger, connector_id)
        candidates = [connector] if connector is not None and connector.free else []
    else:
        candidates = [c for c in charger.connectors.values() if c.free]
    if not candidates or not charger.operative or charger.draining:
        return Answer({"status": "Rejected"})
    connector = candidates[0]
    if profile is not None:
        try:
            profile = charging_profiles.start_profile(charger, profile, connector.connector_id)
        except ProfileRefused as refusal:
            charger.log.info("remote start refused for its charging profile: %s", refusal)
            return Answer({"status": "Rejected"})
    connector.claim(id_tag, profile)

    async def begin() -> None:
        connector.wake()

    return Answer({"status": "Accepted"}, then=begin)


def remote_stop_transaction(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    for connector in charger.connectors.values():
        if connector.transaction_id == p["transactionId"] and connector.request_stop("Remote"):
            return Answer({"status": "Accepted"})
    return Answer({"status": "Rejected"})


def unlock_connector(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    connector = _connector(charger, p["connectorId"])
    if connector is None:
        return Answer({"status": "NotSupported"})
    if connector.transaction_id is not None:
        connector.request_stop("UnlockCommand")  # 1.6: unlocking ends the transaction first
    return Answer({"status": "Unlocked"})


def change_availability(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    operative = p["type"] == "Operative"
    connector_id = p["connectorId"]
    if connector_id == 0:
        targets = list(charger.connectors.values())
        charger.operative = operative
    else:
        connector = _connector(charger, connector_id)
        if connector is None:
            return Answer({"status": "Rejected"})
        targets = [connector]
    changed: list[Connector] = []
    scheduled = False
    for connector in targets:
        if not operative and connector.busy:
            connector.inoperative_scheduled = scheduled = True  # applies when the transaction ends
        else:
            connector.inoperative_scheduled = False
            if connector.operative != operative:
                connector.operative = operative
                changed.append(connector)

    async def report() -> None:
        if connector_id == 0:
            await charger.notify_status(0)
        for connector in changed:
            await connector.report("Available" if operative else "Unavailable")
            connector.wake()

    return Answer({"status": "Scheduled" if scheduled else "Accepted"}, then=report)


def change_configuration(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    status = charger.config.change(p["key"], p["value"])
    if status == "Accepted" and p["key"] == "HeartbeatInterval":
        charger.interval_changed.set()
    return Answer({"status": status})


def get_configuration(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return Answer(charger.config.report(p.get("key")))


def trigger_message(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    requested, connector_id = p["requestedMessage"], p.get("connectorId")
    if connector_id is not None and connector_id != 0 and connector_id not in charger.connectors:
        return Answer({"status": "Rejected"})
    send = _TRIGGERED.get(requested)
    if send is None:
        return Answer({"status": "NotImplemented"})

    async def then() -> None:
        try:
            await send(charger, connector_id)
        except (LinkClosed, CallTimeout, Offline) as error:
            charger.log.warning("triggered %s not sent: %s", requested, error)

    return Answer({"status": "Accepted"}, then=then)


async def _send_boot(charger: SimulatedCharger, connector_id: int | None) -> None:
    if charger.online.is_set():
        charger.apply_boot(await charger.call("BootNotification", charger.boot_payload()))
    else:
        charger.boot_now()


async def _send_heartbeat(charger: SimulatedCharger, connector_id: int | None) -> None:
    await charger.call("Heartbeat", {})


async def _send_status(charger: SimulatedCharger, connector_id: int | None) -> None:
    for n in [connector_id] if connector_id is not None else [0, *charger.connectors]:
        await charger.notify_status(n)


async def _send_meter_values(charger: SimulatedCharger, connector_id: int | None) -> None:
    ids = [connector_id] if connector_id else list(charger.connectors)
    for n in ids:
        await charger.connectors[n].send_meter_values("Trigger")


async def _send_diagnostics_status(charger: SimulatedCharger, connector_id: int | None) -> None:
    await charger.call(charger.dialect.diagnostics_status_action, {"status": charger.diagnostics_status})


async def _send_firmware_status(charger: SimulatedCharger, connector_id: int | None) -> None:
    await charger.call("FirmwareStatusNotification", {"status": charger.firmware_status})


_TRIGGERED: dict[str, Callable[[SimulatedCharger, int | None], Awaitable[None]]] = {
    "BootNotification": _send_boot,
    "Heartbeat": _send_heartbeat,
    "StatusNotification": _send_status,
    "MeterValues": _send_meter_values,
    "DiagnosticsStatusNotification": _send_diagnostics_status,
    "FirmwareStatusNotification": _send_firmware_status,
}


def clear_cache(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return Answer({"status": "Accepted"})


def local_list_update(charger: SimulatedCharger, *, version: int, full: bool, items: list[Item]) -> Answer:
    """Apply a SendLocalList of either version; more entries than the charger takes at once fail."""
    if len(items) > charger.config.integer("SendLocalListMaxLength"):
        return Answer({"status": "Failed"})
    return Answer({"status": charger.local_list.update(version=version, full=full, items=items)})


def send_local_list(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    items = [(item["idTag"], item.get("idTagInfo")) for item in p.get("localAuthorizationList", [])]
    return local_list_update(charger, version=p["listVersion"], full=p["updateType"] == "Full", items=items)


def get_local_list_version(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return Answer({"listVersion": charger.local_list.version})


def data_transfer(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    if p["vendorId"] != "CSMS-Sim":
        return Answer({"status": "UnknownVendorId"})
    return Answer({"status": "Accepted", "data": p.get("data", "")})


HANDLERS: dict[str, Handler] = {
    "Reset": reset,
    "RemoteStartTransaction": remote_start_transaction,
    "RemoteStopTransaction": remote_stop_transaction,
    "UnlockConnector": unlock_connector,
    "ChangeAvailability": change_availability,
    "ChangeConfiguration": change_configuration,
    "GetConfiguration": get_configuration,
    "TriggerMessage": trigger_message,
    "ClearCache": clear_cache,
    "DataTransfer": data_transfer,
    "SendLocalList": send_local_list,
    "GetLocalListVersion": get_local_list_version,
    "GetDiagnostics": diagnostics.get_diagnostics,
    "UpdateFirmware": firmware.update_firmware_16,
    # The security extension (OCPP 1.6 Security Whitepaper)
    "GetLog": diagnostics.get_log,
    "SignedUpdateFirmware": firmware.signed_update_firmware_16,
    "SetChargingProfile": charging_profiles.set_charging_profile_16,
    "ClearChargingProfile": charging_profiles.clear_charging_profile_16,
    "GetCompositeSchedule": charging_profiles.get_composite_schedule_16,
}


async def answer(charger: SimulatedCharger, action: str, payload: dict[str, Any]) -> Answer:
    """Answer one CSMS call with the handlers of the charger's version, or raise Refusal for a CALLERROR."""
    handler = charger.dialect.call_handlers.get(action)
    if handler is None:
        if schemas.known(action, charger.dialect.version):  # OCPP-J: "recognized but not supported"
            raise Refusal("NotSupported", f"{action} is not supported by this charger.")
        raise Refusal("NotImplemented", f"Unknown action {action!r}.")
    return handler(charger, payload)
