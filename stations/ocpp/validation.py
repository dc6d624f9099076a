"""Payload validation against the official OCA JSON schemas shipped with the `ocpp` package."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError, best_match
from ocpp.messages import get_validator

from stations.ocpp.framing import CALL, ErrorKind, FrameError

# jsonschema keyword -> error kind (the adapter names it per version)
_KIND_BY_KEYWORD = {
    "type": ErrorKind.TYPE,
    "maxLength": ErrorKind.TYPE,
    "minLength": ErrorKind.TYPE,
    "required": ErrorKind.MISSING,
    "additionalProperties": ErrorKind.FORMAT,
    "minItems": ErrorKind.OCCURRENCE,
    "maxItems": ErrorKind.OCCURRENCE,
}
# 1.6 schemas give some charging-schedule numbers a multipleOf 0.1 that binary floats fail.
_DECIMAL_ACTIONS_16 = {"SetChargingProfile", "RemoteStartTransaction", "GetCompositeSchedule"}


def schema_validator(*, version: str, message_type: int, action: str) -> Draft4Validator | None:
    try:
        if version == "1.6" and action in _DECIMAL_ACTIONS_16:
            return get_validator(message_type, action, version, parse_float=Decimal)
        return get_validator(message_type, action, version)
    except (OSError, ValueError):
        return None


def has_schema(*, version: str, message_type: int, action: str) -> bool:
    return schema_validator(version=version, message_type=message_type, action=action) is not None


def validate_payload(
    *, version: str, message_type: int, action: str, payload: Any, unique_id: str = "-1"
) -> None:
    """Raise FrameError describing the first schema violation, by the JSON path of the field."""
    validator = schema_validator(version=version, message_type=message_type, action=action)
    if validator is None:
        raise FrameError(ErrorKind.NOT_IMPLEMENTED, f"Unknown action {action!r}.", unique_id)
    if version == "1.6" and action in _DECIMAL_ACTIONS_16:
        payload = json.loads(json.dumps(payload), parse_float=Decimal)
    error: ValidationError | None = best_match(validator.iter_errors(payload))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    kind = _KIND_BY_KEYWORD.get(str(error.validator), ErrorKind.PROPERTY)
    side = "request" if message_type == CALL else "response"
    raise FrameError(
        kind,
        f"{action} {side}: {where}: {error.message}"[:255],
        unique_id,
        {"field": where, "constraint": str(error.validator)},
    )
