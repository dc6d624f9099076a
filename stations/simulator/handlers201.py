"""Answers of a simulated 2.0.1 charger to the CSMS's calls: 2.0.1 shapes over the 1.6 behaviour of
handlers.py (one EVSE per connector; each configuration key is the standardized variable that replaced
it, or else a variable of OCPPCommCtrlr under its 1.6 name)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stations.ocpp.v201 import VARIABLES_FOR_16_KEYS, variable_for_key
from stations.simulator import charging_profiles, config_profiles, diagnostics, firmware, handlers
from stations.simulator.link import Answer, CallTimeout, LinkClosed, Offline
from stations.simulator.meter import timestamp
from stations.simulator.smart_charging import ProfileRefused

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger

COMPONENT = "OCPPCommCtrlr"
KEYS_FOR_VARIABLES = {variable: key for key, variable in VARIABLES_FOR_16_KEYS.items()}


def _key(charger: SimulatedCharger, wanted: dict[str, Any]) -> str | None:
    """The configuration key a GetVariables / SetVariables entry names, if the charger has it."""
    component, variable = wanted["component"]["name"], wanted["variable"]["name"]
    key = KEYS_FOR_VARIABLES.get((component, variable)) or (variable if component == COMPONENT else None)
    return key if key in charger.config.keys else None


def reset(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return Answer(
        {"status": "Accepted"}, then=lambda: charger.reset("Hard" if p["type"] == "Immediate" else "Soft")
    )


def request_start_transaction(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    try:
        profile = charging_profiles.profile_from_201(p["chargingProfile"]) if "chargingProfile" in p else None
    except ProfileRefused as refusal:
        charger.log.info("remote start refused for its charging profile: %s", refusal)
        return Answer({"status": "Rejected"})
    return handlers.remote_start(
        charger, id_tag=p["idToken"]["idToken"], connector_id=p.get("evseId"), profile=profile
    )


def request_stop_transaction(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return handlers.remote_stop_transaction(charger, p)  # same field name, the charger's own string id


def unlock_connector(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    connector = charger.connectors.get(p["evseId"])
    if connector is None or p["connectorId"] != 1:
        return Answer({"status": "UnknownConnector"})
    if connector.transaction_id is not None:
        return Answer({"status": "OngoingAuthorizedTransaction"})  # 2.0.1 does not end it
    return Answer({"status": "Unlocked"})


def change_availability(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    request = {"connectorId": p.get("evse", {}).get("id", 0), "type": p["operationalStatus"]}
    return handlers.change_availability(charger, request)


def trigger_message(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    requested = p["requestedMessage"]
    if requested == "LogStatusNotification":
        requested = "DiagnosticsStatusNotification"
    request = {"requestedMessage": requested} | ({"connectorId": p["evse"]["id"]} if "evse" in p else {})
    return handlers.trigger_message(charger, request)


def get_variables(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    results = []
    for wanted in p["getVariableData"]:
        result = {"component": wanted["component"], "variable": wanted["variable"]}
        if (name := _key(charger, wanted)) is not None:
            result |= {"attributeStatus": "Accepted", "attributeValue": charger.config.get(name)}
        else:
            result["attributeStatus"] = "UnknownVariable"
        results.append(result)
    return Answer({"getVariableResult": results})


def set_variables(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    results = []
    for wanted in p["setVariableData"]:
        status = "UnknownVariable"
        if (name := _key(charger, wanted)) is not None:
            # Accepted, Rejected or RebootRequired: the same names in ChangeConfiguration and SetVariables
            status = charger.config.change(name, wanted["attributeValue"])
            if status == "Accepted" and name == "HeartbeatInterval":  # restarts the heartbeat wait
                charger.interval_changed.set()
        results.append(
            {"attributeStatus": status, "component": wanted["component"], "variable": wanted["variable"]}
        )
    return Answer({"setVariableResult": results})


def get_base_report(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    report = [
        {
            **variable_for_key(name),
            "variableAttribute": [
                {"value": key.value, "mutability": "ReadOnly" if key.readonly else "ReadWrite"}
            ],
            "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
        }
        for name, key in charger.config.keys.items()
    ]

    async def send() -> None:
        payload = {"requestId": p["requestId"], "generatedAt": timestamp(), "seqNo": 0, "reportData": report}
        try:
            await charger.call("NotifyReport", payload)
        except (LinkClosed, CallTimeout, Offline) as error:
            charger.log.warning("NotifyReport not sent: %s", error)

    return Answer({"status": "Accepted"}, then=send)


def _id_tag_info(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """An idTokenInfo as the charger keeps it, in 1.6's idTagInfo shape."""
    if info is None:
        return None
    kept = {"status": info["status"]}
    if "cacheExpiryDateTime" in info:
        kept["expiryDate"] = info["cacheExpiryDateTime"]
    if "groupIdToken" in info:
        kept["parentIdTag"] = info["groupIdToken"]["idToken"]
    return kept


def send_local_list(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    items = [
        (item["idToken"]["idToken"], _id_tag_info(item.get("idTokenInfo")))
        for item in p.get("localAuthorizationList", [])
    ]
    full = p["updateType"] == "Full"
    return handlers.local_list_update(charger, version=p["versionNumber"], full=full, items=items)


def get_local_list_version(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    return Answer({"versionNumber": charger.local_list.version})


HANDLERS: dict[str, handlers.Handler] = {
    "Reset": reset,
    "RequestStartTransaction": request_start_transaction,
    "RequestStopTransaction": request_stop_transaction,
    "UnlockConnector": unlock_connector,
    "ChangeAvailability": change_availability,
    "TriggerMessage": trigger_message,
    "GetVariables": get_variables,
    "SetVariables": config_profiles.set_variables,
    "GetBaseReport": get_base_report,
    "ClearCache": handlers.clear_cache,
    "DataTransfer": handlers.data_transfer,
    "SendLocalList": send_local_list,
    "GetLocalListVersion": get_local_list_version,
    "GetLog": diagnostics.get_log,
    "UpdateFirmware": firmware.update_firmware_201,
    "SetChargingProfile": charging_profiles.set_charging_profile_201,
    "ClearChargingProfile": charging_profiles.clear_charging_profile_201,
    "GetCompositeSchedule": charging_profiles.get_composite_schedule_201,
}
