"""The simulated charger's local authorization list (OCPP 1.6 section 3.5; 2.0.1 functional block D),
kept in 1.6's vocabulary: idTag -> idTagInfo."""

from __future__ import annotations

from typing import Any

# (idTag, idTagInfo); no idTagInfo in a differential update removes the idTag.
Item = tuple[str, dict[str, Any] | None]


class LocalAuthList:
    def __init__(self) -> None:
        self.version = 0
        self.entries: dict[str, tuple[str, dict[str, Any]]] = {}  # by idTag in lower case (CiString)

    def update(self, *, version: int, full: bool, items: list[Item]) -> str:
        """Apply a SendLocalList; return its status (the same names in 1.6 and 2.0.1)."""
        if full:
            self.entries = {tag.lower(): (tag, info) for tag, info in items if info is not None}
        else:
            if version <= self.version:
                return "VersionMismatch"
            for tag, info in items:
                if info is None:
                    self.entries.pop(tag.lower(), None)
                else:
                    self.entries[tag.lower()] = (tag, info)
        self.version = version
        return "Accepted"

    def info(self, id_tag: str) -> dict[str, Any] | None:
        """The idTagInfo the list gives for this idTag, if it holds it."""
        entry = self.entries.get(id_tag.lower())
        return None if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self.entries)
