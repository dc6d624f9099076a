"""The energy admin: grid connections, circuits, wiring and allocations, and the fleet planner's data,
scoped by organization like the rest of the admin."""

from __future__ import annotations

from energy.admin import balancing, fleet

__all__ = ["balancing", "fleet"]
