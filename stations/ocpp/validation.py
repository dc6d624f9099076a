"""Payload validation against the official OCA JSON schemas shipped with the `ocpp` package.

The schemas are compiled to Python code by fastjsonschema, about twenty times faster than the
`jsonschema` validators on every charger message (validation was the gateway's third-largest cost).
The 1.6 messages whose numbers must be checked as decimals (see _DECIMAL_ACTIONS_16) are CSMS calls,
rare, and keep the `jsonschema` path the `ocpp` package takes for them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import fastjsonschema
from jsonschema.exceptions import ValidationError, best_match
from ocpp.messages import get_validator

from stations.ocpp.framing import CALL, ErrorKind, FrameError

# schema keyword -> error kind (the adapter names it per version)
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


@functools.cache
def _validator(version: str, message_type: int, action: str) -> Callable[[Any], Any] | None:
    try:
        if version == "1.6" and action in _DECIMAL_ACTIONS_16:
            return _decimal_validator(get_validator(message_type, action, version, parse_float=Decimal))
        return fastjsonschema.compile(get_validator(message_type, action, version).schema)
    except (OSError, ValueError):
        return None  # no such schema: not an action of this version


def _decimal_validator(validator: Any) -> Callable[[Any], Any]:
    def validate(payload: Any) -> None:
        error: ValidationError | None = best_match(
            validator.iter_errors(json.loads(json.dumps(payload), parse_float=Decimal))
        )
        if error is not None:
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            raise fastjsonschema.JsonSchemaValueException(
                error.message, name=f"data{path}", rule=str(error.validator)
            )

    return validate


def validate_payload(
    *, version: str, message_type: int, action: str, payload: Any, unique_id: str = "-1"
) -> None:
    """Raise FrameError describing the first schema violation, by the JSON path of the field."""
    validate = _validator(version, message_type, action)
    if validate is None:
        raise FrameError(ErrorKind.NOT_IMPLEMENTED, f"Unknown action {action!r}.", unique_id)
    try:
        validate(payload)
    except fastjsonschema.JsonSchemaValueException as error:
        where = _json_path(error.name)
        rule = error.rule or ""
        side = "request" if message_type == CALL else "response"
        message = error.message.replace(error.name or "data", where, 1)
        raise FrameError(
            _KIND_BY_KEYWORD.get(rule, ErrorKind.PROPERTY),
            f"{action} {side}: {message}"[:255],
            unique_id,
            {"field": where, "constraint": rule},
        ) from None


def _json_path(name: str | None) -> str:
    """'data.meterValue[0].sampledValue' -> 'meterValue/0/sampledValue'; the whole payload is 'payload'."""
    path = re.sub(r"\[(\d+)\]", r".\1", (name or "data").removeprefix("data")).strip(".")
    return path.replace(".", "/") or "payload"
