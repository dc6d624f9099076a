"""A real OCPP-J client over a real socket, for tests: calls, raw frames, answers to CSMS calls."""

from __future__ import annotations

import base64
import itertools
import json
import queue
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CallHandler = Callable[[dict[str, Any]], dict[str, Any]]


class OcppClient:
    def __init__(
        self,
        url: str,
        *,
        identity: str,
        password: str | bytes | None,
        subprotocols: tuple[str, ...] = ("ocpp1.6",),
        handlers: dict[str, CallHandler] | None = None,
        timeout: float = 10.0,
    ) -> None:
        headers = {}
        if password is not None:
            raw = password.encode() if isinstance(password, str) else password
            headers["Authorization"] = "Basic " + base64.b64encode(identity.encode() + b":" + raw).decode()
        self.timeout = timeout
        self.handlers = handlers or {}
        self.received_calls: list[list[Any]] = []
        self._replies: queue.Queue[Any] = queue.Queue()
        self._ids = itertools.count(1)
        self.ws = connect(
            url, subprotocols=list(subprotocols), additional_headers=headers, open_timeout=timeout
        ).__enter__()
        self.subprotocol = self.ws.subprotocol
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                frame = json.loads(self.ws.recv())
                if isinstance(frame, list) and frame and frame[0] == 2:
                    self.received_calls.append(frame)
                    self._answer(frame)
                else:
                    self._replies.put(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def _answer(self, frame: list[Any]) -> None:
        _, unique_id, action, payload = frame
        handler = self.handlers.get(action)
        if handler is None:
            return  # stay silent: the CSMS must time out
        try:
            self.ws.send(json.dumps([3, unique_id, handler(payload)]))
        except CallErrorReply as error:
            self.ws.send(json.dumps([4, unique_id, error.code, error.description, {}]))

    def call(self, action: str, payload: dict[str, Any], unique_id: str | None = None) -> list[Any]:
        """Send a CALL and return the frame that answers it."""
        unique_id = unique_id or f"m{next(self._ids)}"
        self.ws.send(json.dumps([2, unique_id, action, payload]))
        return self.next_frame()

    def result(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL that must succeed and return the CALLRESULT payload."""
        frame = self.call(action, payload)
        assert frame[0] == 3, frame
        return frame[2]

    def send_raw(self, text: str) -> list[Any]:
        self.ws.send(text)
        return self.next_frame()

    def next_frame(self) -> list[Any]:
        return self._replies.get(timeout=self.timeout)

    def close(self) -> None:
        self.ws.close()
        self._reader.join(5)

    def __enter__(self) -> OcppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallErrorReply(Exception):
    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(code)
        self.code, self.description = code, description
