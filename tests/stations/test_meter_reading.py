"""Meter values as each version writes them, flattened into the same samples."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from stations.ocpp import v16, v201

AT = "2026-11-25T10:05:00Z"


def test_1_6_keeps_readable_numbers_with_the_specification_defaults_and_skips_the_rest():
    reading = v16.meter_reading(
        [
            {
                "timestamp": AT,
                "sampledValue": [
                    {"value": "1843.5"},
                    {"value": "0A1B2C", "format": "SignedData"},
                    {"value": "not a number"},
                    {"value": "NaN"},
                    {"value": "16.0", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                ],
            }
        ]
    )
    first, second = reading.samples
    assert (first.value, first.unit, first.measurand, first.context, first.phase) == (
        Decimal("1843.5"),
        "Wh",
        "Energy.Active.Import.Register",
        "Sample.Periodic",
        "",
    )
    assert first.sampled_at == datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    assert (second.value, second.unit, second.phase) == (Decimal("16.0"), "A", "L1")


def test_2_0_1_applies_the_unit_multiplier():
    reading = v201.meter_reading(
        [
            {
                "timestamp": AT,
                "sampledValue": [
                    {
                        "value": 10.98,
                        "measurand": "Power.Active.Import",
                        "unitOfMeasure": {"unit": "W", "multiplier": 3},
                    },
                    {"value": 1843},
                ],
            }
        ]
    )
    power, energy = reading.samples
    assert (power.value, power.unit) == (Decimal("10980"), "W")
    assert (energy.value, energy.unit, energy.measurand) == (
        Decimal("1843"),
        "Wh",
        "Energy.Active.Import.Register",
    )
