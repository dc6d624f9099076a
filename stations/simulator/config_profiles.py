"""A simulated 2.0.1 charger's SetVariables as a real one answers it: a component it does not have is
UnknownComponent, a variable it lacks in a known component UnknownVariable, an attribute other than
Actual NotSupportedAttributeType (the simulator keeps one value per variable); the rest goes to
handlers201.set_variables (Accepted, Rejected, RebootRequired)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stations.ocpp.v201 import VARIABLES_FOR_16_KEYS
from stations.simulator.link import Answer

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger

# Where the simulator keeps its keys: the standardized successors of 1.6 keys, the rest in OCPPCommCtrlr.
COMPONENTS = frozenset({"OCPPCommCtrlr", *(c for c, _ in VARIABLES_FOR_16_KEYS.values())})


def _refusal(wanted: dict[str, Any]) -> str | None:
    if wanted["component"]["name"] not in COMPONENTS:
        return "UnknownComponent"
    if wanted.get("attributeType", "Actual") != "Actual":
        return "NotSupportedAttributeType"
    return None


def set_variables(charger: SimulatedCharger, p: dict[str, Any]) -> Answer:
    from stations.simulator import handlers201  # its handler table names this function

    entries = p["setVariableData"]
    known = [w for w in entries if _refusal(w) is None]
    answered = iter(
        handlers201.set_variables(charger, {"setVariableData": known}).payload["setVariableResult"]
    )
    results = []
    for wanted in entries:  # the answer keeps the request's order
        refusal = _refusal(wanted)
        if refusal is None:
            results.append(next(answered))
        else:
            result = {
                "attributeStatus": refusal,
                "component": wanted["component"],
                "variable": wanted["variable"],
            }
            if "attributeType" in wanted:
                result["attributeType"] = wanted["attributeType"]
            results.append(result)
    return Answer({"setVariableResult": results})
