"""How configuration keys are named across versions: 1.6 keys as they are, 2.0.1 variables as
"Component[.instance][@evse[.connector]]/Variable[.instance]"."""

from __future__ import annotations

from typing import Any

from stations.ocpp.v201 import VARIABLES_FOR_16_KEYS

# A 1.6 key without a standardized successor is a variable of this component (as variable_for_key).
DEFAULT_COMPONENT = "OCPPCommCtrlr"
KEYS_FOR_VARIABLES = {f"{c}/{v}": key for key, (c, v) in VARIABLES_FOR_16_KEYS.items()}


def variable_key(
    *,
    component: str,
    variable: str,
    component_instance: str = "",
    variable_instance: str = "",
    evse_id: int = 0,
    connector_id: int = 0,
) -> str:
    """The snapshot key of one 2.0.1 variable."""
    name = component + (f".{component_instance}" if component_instance else "")
    if evse_id:
        name += f"@{evse_id}" + (f".{connector_id}" if connector_id else "")
    return f"{name}/{variable}" + (f".{variable_instance}" if variable_instance else "")


def key_201(key: str) -> str:
    """The 2.0.1 snapshot key an entry names: itself if it names a component, else its 1.6 successor."""
    if "/" in key:
        return key
    component, dot, variable = key.partition(".")  # the admin's older "Component.Variable" form
    if dot:
        return f"{component}/{variable}"
    component, variable = VARIABLES_FOR_16_KEYS.get(key, (DEFAULT_COMPONENT, key))
    return f"{component}/{variable}"


def key_16(key: str) -> str | None:
    """The 1.6 key an entry names, or None for a 2.0.1 variable without a 1.6 predecessor."""
    if "/" not in key and "." not in key:
        return key
    name = key_201(key)
    if name in KEYS_FOR_VARIABLES:
        return KEYS_FOR_VARIABLES[name]
    component, _, variable = name.partition("/")
    return variable if component == DEFAULT_COMPONENT else None


def key_for_protocol(key: str, protocol: str) -> str | None:
    return key_16(key) if protocol == "ocpp1.6" else key_201(key)


def set_variable_data(key: str, value: str) -> dict[str, Any]:
    """A SetVariables / GetVariables entry for a 2.0.1 snapshot key."""
    component_part, _, variable_part = key_201(key).partition("/")
    component_part, _, evse_part = component_part.partition("@")
    component_name, _, component_instance = component_part.partition(".")
    variable_name, _, variable_instance = variable_part.partition(".")
    component: dict[str, Any] = {"name": component_name}
    if component_instance:
        component["instance"] = component_instance
    if evse_part:
        evse_id, _, connector_id = evse_part.partition(".")
        component["evse"] = {"id": int(evse_id)} | (
            {"connectorId": int(connector_id)} if connector_id else {}
        )
    variable: dict[str, Any] = {"name": variable_name}
    if variable_instance:
        variable["instance"] = variable_instance
    return {"attributeValue": value, "component": component, "variable": variable}
