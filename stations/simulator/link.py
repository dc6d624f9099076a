"""OCPP-J RPC over one WebSocket: framing, one outgoing CALL in flight, answers to the CSMS's calls."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from stations.simulator import schemas

CALL, CALLRESULT, CALLERROR = 2, 3, 4


class Socket(Protocol):
    """The part of a websockets client connection the link uses; tests pass a fake."""

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...


class LinkClosed(Exception):
    """The socket closed before the answer to a call arrived."""


class Offline(Exception):
    """The charger has no accepted connection to send a message on."""


class CallTimeout(Exception):
    """The CSMS did not answer a call in time."""


class CallErrorReceived(Exception):
    """The CSMS answered a call with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description = code, description


class Refusal(Exception):
    """Raised by a call handler to answer with a CALLERROR."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description = code, description


@dataclass
class Answer:
    """A handler's CALLRESULT payload, and what to do once it has been sent (TriggerMessage, Reset, ...)."""

    payload: dict[str, Any]
    then: Callable[[], Coroutine[Any, Any, None]] | None = None


CallHandler = Callable[[str, dict[str, Any]], Awaitable[Answer]]
Spawn = Callable[[Coroutine[Any, Any, None]], object]


class OcppLink:
    """One connection's RPC: `call()` from any task, `serve()` in one task until the socket closes."""

    def __init__(
        self,
        socket: Socket,
        handle: CallHandler,
        *,
        spawn: Spawn,
        timeout_s: float,
        log: logging.LoggerAdapter[logging.Logger],
        strict: bool = False,
        on_protocol_error: Callable[[str], None] | None = None,
        version: str = "1.6",
    ) -> None:
        self.socket, self.handle, self.spawn, self.timeout_s = socket, handle, spawn, timeout_s
        self.log, self.strict, self.version = log, strict, version
        self.on_protocol_error = on_protocol_error or (lambda message: None)
        self.closed = False
        self._lock = asyncio.Lock()  # OCPP-J: at most one CALL in flight per direction
        self._waiting: tuple[str, str, asyncio.Future[dict[str, Any]]] | None = None

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL and return its CALLRESULT payload; raise CallErrorReceived, CallTimeout, LinkClosed."""
        if self.strict:
            self._check(CALL, action, payload, "sent")
        async with self._lock:
            if self.closed:
                raise LinkClosed(action)
            unique_id = str(uuid.uuid4())
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiting = (unique_id, action, future)
            try:
                self.log.debug("-> %s %s", action, payload)
                await self._send([CALL, unique_id, action, payload])
                return await asyncio.wait_for(future, self.timeout_s)
            except TimeoutError:
                raise CallTimeout(f"no answer to {action} within {self.timeout_s:g} s") from None
            finally:
                self._waiting = None

    async def serve(self) -> None:
        """Read frames until the socket closes; then fail the call waiting for an answer."""
        try:
            async for message in self.socket:
                if isinstance(message, str):
                    await self._receive(message)
        finally:
            self.closed = True
            if self._waiting is not None and not self._waiting[2].done():
                self._waiting[2].set_exception(LinkClosed(self._waiting[1]))

    async def _send(self, frame: list[Any]) -> None:
        await self.socket.send(json.dumps(frame, separators=(",", ":")))

    async def _receive(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            self.log.warning("unreadable frame from the CSMS: %.200s", text)
            return
        if not isinstance(frame, list) or len(frame) < 3 or not isinstance(frame[1], str):
            self.log.warning("malformed frame from the CSMS: %.200s", text)
            return
        if frame[0] == CALL and len(frame) == 4:
            await self._answer(frame[1], frame[2], frame[3])
        elif frame[0] in (CALLRESULT, CALLERROR):
            self._resolve(frame)
        else:
            self.log.warning("unexpected frame from the CSMS: %.200s", text)

    def _resolve(self, frame: list[Any]) -> None:
        if self._waiting is None or self._waiting[0] != frame[1]:
            self.log.warning("answer to no pending call: %.200s", frame)
            return
        _, action, future = self._waiting
        if future.done():
            return
        if frame[0] == CALLRESULT:
            if self.strict:
                self._check(CALLRESULT, action, frame[2], "received")
            future.set_result(frame[2])
        else:
            code = str(frame[2])
            description = str(frame[3]) if len(frame) > 3 else ""
            future.set_exception(CallErrorReceived(code, description))

    async def _answer(self, unique_id: str, action: Any, payload: Any) -> None:
        try:
            if not isinstance(action, str) or not isinstance(payload, dict):
                raise Refusal(
                    schemas.code("additionalProperties", self.version),
                    "A CALL is [2, id, action, {payload}].",
                )
            self.log.debug("<- %s %s", action, payload)
            violation = schemas.violation(CALL, action, payload, self.version)
            if violation is not None:
                raise Refusal(*violation)
            try:
                answer = await self.handle(action, payload)
            except Refusal:
                raise
            except Exception:
                self.log.exception("answering %s failed", action)
                raise Refusal("InternalError", f"The charger could not process {action}.") from None
        except Refusal as refusal:
            self.log.info("answered %s with CallError %s %s", action, refusal.code, refusal.description)
            await self._send([CALLERROR, unique_id, refusal.code, refusal.description, {}])
            return
        if self.strict:
            self._check(CALLRESULT, action, answer.payload, "sent")
        await self._send([CALLRESULT, unique_id, answer.payload])
        if answer.then is not None:
            # The follow-up (a triggered message, a reset) starts only once the answer is on the wire,
            # and belongs to the charger: a reset outlives the socket it closes.
            self.spawn(answer.then())

    def _check(self, message_type: int, action: str, payload: Any, direction: str) -> None:
        violation = schemas.violation(message_type, action, payload, self.version)
        if violation is not None:
            kind = "call" if message_type == CALL else "result"
            message = f"{direction} {action} {kind} breaks the OCPP {self.version} schema: {violation[1]}"
            self.log.error("%s", message)
            self.on_protocol_error(message)
