"""Progress notifications of a simulated charger's long jobs (uploads, firmware updates)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stations.simulator.charger import SimulatedCharger


async def status_report(charger: SimulatedCharger, action: str, status: str, request_id: int | None) -> None:
    """Send one step's status notification (2.0.1 names the request it belongs to); an offline charger
    simply does not report it."""
    payload: dict[str, Any] = {"status": status}
    if request_id is not None:
        payload["requestId"] = request_id
    try:
        await charger.call(action, payload)
    except Exception as error:
        charger.log.warning("%s %s not sent: %r", action, status, error)
