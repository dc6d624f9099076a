"""OCPP 1.6 payload checks against the official OCA schemas that the `ocpp` package ships."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from ocpp.messages import get_validator

# jsonschema keyword -> OCPP-J 1.6 error code (the 1.6 spelling of "Occurence" is the specification's)
_CODES = {
    "type": "TypeConstraintViolation",
    "maxLength": "TypeConstraintViolation",
    "minLength": "TypeConstraintViolation",
    "required": "ProtocolError",
    "additionalProperties": "FormationViolation",
    "minItems": "OccurenceConstraintViolation",
    "maxItems": "OccurenceConstraintViolation",
}


@cache
def _validator(message_type: int, action: str) -> Draft4Validator | None:
    try:
        return get_validator(message_type, action, "1.6", parse_float=Decimal)
    except (OSError, ValueError):
        return None


def known(action: str) -> bool:
    """Tell whether `action` is an OCPP 1.6 action at all."""
    return _validator(2, action) is not None


def violation(message_type: int, action: str, payload: Any) -> tuple[str, str] | None:
    """Return (error code, description) of the first schema violation, or None."""
    validator = _validator(message_type, action)
    if validator is None:
        return ("NotImplemented", f"Unknown action {action!r}.") if message_type == 2 else None
    # multipleOf 0.1 (charging-schedule limits) fails on binary floats; Decimal compares exactly.
    exact = json.loads(json.dumps(payload), parse_float=Decimal)
    error = best_match(validator.iter_errors(exact))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "payload"
    return _CODES.get(str(error.validator), "PropertyConstraintViolation"), f"{where}: {error.message}"[:255]
