"""Realistic OCPP frames from tests/fixtures/ocpp/<version>/, with placeholders filled in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "ocpp"


def load_payload(version: str, name: str, **values: Any) -> dict[str, Any]:
    payload = json.loads((FIXTURES / version / f"{name}.json").read_text())
    return _fill(payload, {f"__{k.upper()}__": v for k, v in values.items()})


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    if isinstance(node, str) and node in values:
        return values[node]
    return node
