"""Field options shared by the energy models."""

from __future__ import annotations

AMPS = {"max_digits": 8, "decimal_places": 1}
KW = {"max_digits": 10, "decimal_places": 2}
MONEY = {"max_digits": 12, "decimal_places": 4}
