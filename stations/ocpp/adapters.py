"""The OCPP versions the gateway speaks, newest first."""

from __future__ import annotations

from stations.ocpp.base import ProtocolAdapter
from stations.ocpp.v16 import Ocpp16
from stations.ocpp.v201 import Ocpp21, Ocpp201

ADAPTERS: dict[str, type[ProtocolAdapter]] = {
    adapter.subprotocol: adapter for adapter in (Ocpp21, Ocpp201, Ocpp16)
}


def adapter_for(offered: list[str]) -> type[ProtocolAdapter] | None:
    """Pick the newest version that both sides speak, in the CSMS's order of preference."""
    return next((ADAPTERS[name] for name in ADAPTERS if name in offered), None)
