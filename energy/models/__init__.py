"""Energy management models: load balancing (grid connection, circuits, wiring, allocations, load
history) and fleet scheduling (vehicles, needs, grid prices, plans)."""

from __future__ import annotations

from energy.models.balancing import (
    Allocation,
    AllocationChange,
    AllocationStatus,
    ChargerWiring,
    Circuit,
    ConnectorLimit,
    PhaseLimits,
    PhaseRotation,
    SiteGrid,
    SiteLoadSample,
)
from energy.models.fleet import ChargingNeed, FleetPlanRecord, FleetPlanStatus, FleetVehicle, GridPrice

__all__ = [
    "Allocation",
    "AllocationChange",
    "AllocationStatus",
    "ChargerWiring",
    "ChargingNeed",
    "Circuit",
    "ConnectorLimit",
    "FleetPlanRecord",
    "FleetPlanStatus",
    "FleetVehicle",
    "GridPrice",
    "PhaseLimits",
    "PhaseRotation",
    "SiteGrid",
    "SiteLoadSample",
]
