"""OCPP-J framing: CALL [2, id, action, payload], CALLRESULT [3, id, payload],
CALLERROR [4, id, code, description, details]."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CALL, CALLRESULT, CALLERROR = 2, 3, 4


class ErrorKind:
    """Version-neutral error kinds; each adapter names them as its specification does."""

    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    INTERNAL = "internal"
    PROTOCOL = "protocol"
    SECURITY = "security"
    FORMAT = "format"
    PROPERTY = "property"
    OCCURRENCE = "occurrence"
    MISSING = "missing"
    TYPE = "type"
    GENERIC = "generic"
    RPC_FRAMEWORK = "rpc_framework"


class FrameError(Exception):
    """A frame or payload that gets a CALLERROR instead of a result."""

    def __init__(
        self, kind: str, description: str, unique_id: str = "-1", details: dict | None = None
    ) -> None:
        super().__init__(description)
        self.kind, self.description, self.unique_id = kind, description, unique_id
        self.details = details or {}


@dataclass(frozen=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]
    message_type: int = field(default=CALL, init=False)


@dataclass(frozen=True)
class CallResult:
    unique_id: str
    payload: Any
    message_type: int = field(default=CALLRESULT, init=False)


@dataclass(frozen=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: Any
    message_type: int = field(default=CALLERROR, init=False)


Frame = Call | CallResult | CallError


def parse(text: str) -> Frame:
    """Parse one WebSocket text message; raise FrameError with the best unique id that can be read."""
    try:
        message = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise FrameError(ErrorKind.RPC_FRAMEWORK, f"Not valid JSON: {exc}") from None
    if not isinstance(message, list) or not message:
        raise FrameError(ErrorKind.RPC_FRAMEWORK, "A frame must be a non-empty JSON array.")
    message_type = message[0]
    unique_id = message[1] if len(message) > 1 and isinstance(message[1], str) else "-1"
    if len(unique_id) > 36:
        raise FrameError(ErrorKind.RPC_FRAMEWORK, "The message id is longer than 36 characters.")
    if message_type == CALL:
        if len(message) != 4 or not isinstance(message[2], str):
            raise FrameError(ErrorKind.PROTOCOL, "A CALL is [2, id, action, payload].", unique_id)
        if not isinstance(message[3], dict):
            raise FrameError(ErrorKind.FORMAT, "A CALL payload must be a JSON object.", unique_id)
        if unique_id == "-1":
            raise FrameError(ErrorKind.RPC_FRAMEWORK, "The message id must be a string.")
        return Call(unique_id, message[2], message[3])
    if message_type == CALLRESULT and len(message) == 3:
        return CallResult(unique_id, message[2])
    if message_type == CALLERROR and len(message) in (4, 5):
        details = message[4] if len(message) == 5 else {}
        return CallError(unique_id, str(message[2]), str(message[3]), details)
    if message_type in (CALLRESULT, CALLERROR):
        raise FrameError(ErrorKind.PROTOCOL, f"Malformed message of type {message_type}.", unique_id)
    raise FrameError(ErrorKind.RPC_FRAMEWORK, f"Unknown message type {message_type!r}.", unique_id)


def _dumps(message: list[Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def build_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return _dumps([CALL, unique_id, action, payload])


def build_result(unique_id: str, payload: dict[str, Any]) -> str:
    return _dumps([CALLRESULT, unique_id, payload])


def build_error(unique_id: str, code: str, description: str, details: dict | None = None) -> str:
    return _dumps([CALLERROR, unique_id, code, description[:255], details or {}])
