"""OCPP 1.6 and 2.0.1 payload checks against the official OCA schemas that the `ocpp` package ships."""

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


# 2.0.1 renamed two codes and reports a missing field as an occurrence violation.
_CODES_201 = {
    **_CODES,
    "required": "OccurrenceConstraintViolation",
    "additionalProperties": "FormatViolation",
    "minItems": "OccurrenceConstraintViolation",
    "maxItems": "OccurrenceConstraintViolation",
}


def code(keyword: str, version: str = "1.6") -> str:
    """The error code of a schema keyword's violation, as `version` names it."""
    return (_CODES_201 if version != "1.6" else _CODES).get(keyword, "PropertyConstraintViolation")


@cache
def _validator(message_type: int, action: str, version: str = "1.6") -> Draft4Validator | None:
    try:
        return get_validator(message_type, action, version, parse_float=Decimal)
    except (OSError, ValueError):
        return None


def known(action: str, version: str = "1.6") -> bool:
    """Tell whether `action` is an action of this OCPP version at all."""
    return _validator(2, action, version) is not None


def violation(message_type: int, action: str, payload: Any, version: str = "1.6") -> tuple[str, str] | None:
    """Return (error code, description) of the first schema violation, or None."""
    validator = _validator(message_type, action, version)
    if validator is None:
        return ("NotImplemented", f"Unknown action {action!r}.") if message_type == 2 else None
    # multipleOf 0.1 (charging-schedule limits) fails on binary floats; Decimal compares exactly.
    exact = json.loads(json.dumps(payload), parse_float=Decimal)
    error = best_match(validator.iter_errors(exact))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "payload"
    return code(str(error.validator), version), f"{where}: {error.message}"[:255]
