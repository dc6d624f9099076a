"""What a fleet shares: the drivers' id tags and the counters of what happened."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


class TagPool:
    """The drivers' id tags: a driver charges at one connector at a time or gets ConcurrentTx."""

    def __init__(self, id_tags: list[str]) -> None:
        self.free = list(dict.fromkeys(id_tags))

    def acquire(self, rng: random.Random) -> str | None:
        if not self.free:
            return None
        return self.free.pop(rng.randrange(len(self.free)))

    def release(self, id_tag: str) -> None:
        if id_tag not in self.free:
            self.free.append(id_tag)


@dataclass
class Stats:
    connections: int = 0
    boots: int = 0
    sessions_started: int = 0
    sessions_stopped: int = 0
    meter_values: int = 0
    heartbeats: int = 0
    calls_answered: int = 0
    refused: int = 0  # Authorize answered other than Accepted
    call_errors: int = 0  # CALLERRORs the CSMS sent in answer to the simulator's calls
    protocol_errors: list[str] = field(default_factory=list)  # schema violations, in strict mode

    def protocol_error(self, message: str) -> None:
        self.protocol_errors.append(message)

    def summary(self) -> str:
        return (
            f"{self.connections} connections, {self.boots} boots, {self.sessions_started} sessions started, "
            f"{self.sessions_stopped} stopped, {self.meter_values} MeterValues, "
            f"{self.heartbeats} heartbeats, "
            f"{self.calls_answered} CSMS calls answered, {self.refused} authorizations refused, "
            f"{self.call_errors} CallErrors received, {len(self.protocol_errors)} schema violations"
        )
