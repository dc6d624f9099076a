"""Field options shared by the energy models."""

from __future__ import annotations

from typing import Any

# Any: a DecimalField's keyword arguments, spread into it.
AMPS: dict[str, Any] = {"max_digits": 8, "decimal_places": 1}
KW: dict[str, Any] = {"max_digits": 10, "decimal_places": 2}
MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 4}
