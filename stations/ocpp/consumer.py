"""The WebSocket end of the gateway: transport only. Authentication, subprotocol, routing of frames to
the adapter, and CSMS-initiated calls delivered through the channel layer."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError

from stations.credentials import secrets_hidden
from stations.models import identity_validator
from stations.ocpp.adapters import adapter_for
from stations.ocpp.base import ProtocolAdapter
from stations.ocpp.framing import CallResult, FrameError
from stations.ocpp.group_commit import GroupCommitter
from stations.services import registry

logger = logging.getLogger(__name__)

REPLACED_CLOSE_CODE = 4000


def basic_credentials(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes | None]:
    """Split an HTTP Basic Authorization header into raw username and password bytes."""
    value = dict(headers).get(b"authorization", b"")
    scheme, _, encoded = value.partition(b" ")
    if scheme.lower() != b"basic" or not encoded:
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, None
    username, colon, password = decoded.partition(b":")
    return (username, password) if colon else (None, None)


@functools.cache
def gateway_executor() -> ThreadPoolExecutor:
    """The gateway's own threads for database work, not the single thread-sensitive executor: chargers
    must not queue behind an admin request waiting for a charger's answer. Eight let commits overlap
    (bench/README.md: 2 threads 510, 4 608, 8 694, 16 726 messages/s)."""
    return ThreadPoolExecutor(max_workers=settings.CSMS_GATEWAY_DB_THREADS, thread_name_prefix="ocpp-db")


@contextlib.asynccontextmanager
async def handshake_slot() -> AsyncIterator[None]:
    """Admission control: a few handshakes at a time, the rest wait briefly, then are refused.

    Without it a reconnect storm queues handshake work past daphne's handshake timeout, and the
    queued work of chargers already gone crowds out everyone (congestion collapse, seen in bench/).
    Refused chargers retry with their own backoff.
    """
    slots = _handshake_slots(asyncio.get_running_loop())
    await asyncio.wait_for(slots.acquire(), timeout=settings.CSMS_HANDSHAKE_WAIT_S)
    try:
        yield
    finally:
        slots.release()


@functools.cache
def _handshake_slots(loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
    return asyncio.Semaphore(settings.CSMS_GATEWAY_DB_THREADS)  # one per event loop: a semaphore binds to one


def in_thread_pool(func: Any) -> Any:
    return database_sync_to_async(func, thread_sensitive=False, executor=gateway_executor())


@functools.cache
def group_committer(loop: asyncio.AbstractEventLoop) -> GroupCommitter:
    """The frames of all of this process's chargers meet here (one per event loop, like the slots)."""
    return GroupCommitter(
        gateway_executor(),
        batches_in_flight=settings.CSMS_GATEWAY_BATCHES_IN_FLIGHT,
        batch_size=settings.CSMS_GATEWAY_BATCH_SIZE,
    )


_gateway_loop: asyncio.AbstractEventLoop | None = None


def gateway_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop holding this process's charger sockets, once one has connected. Without Redis
    the channel layer lives in this loop only, so work that calls chargers from here must run in it."""
    return _gateway_loop


class ChargePointConsumer(AsyncWebsocketConsumer):
    adapter: ProtocolAdapter | None = None
    in_flight: dict[str, Any] | None = None

    async def connect(self) -> None:
        self.identity = unquote(self.scope["url_route"]["kwargs"]["identity"])
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        adapter_cls = adapter_for(self.scope.get("subprotocols") or [])
        if adapter_cls is None:
            return await self.refuse(f"offered no supported subprotocol {self.scope.get('subprotocols')}")
        try:
            identity_validator(self.identity)
        except ValidationError:
            return await self.refuse("malformed identity")
        username, password = basic_credentials(self.scope.get("headers", []))
        try:
            async with handshake_slot():
                admitted = await in_thread_pool(registry.station_connection_open)(
                    identity=self.identity,
                    username=username,
                    password=password,
                    protocol=adapter_cls.subprotocol,
                    channel_name=self.channel_name,
                )
        except TimeoutError:
            return await self.refuse("too many handshakes at once; the charger will retry")
        if admitted.station_id is None:
            return await self.refuse(admitted.admission.value)
        self.adapter = adapter_cls(
            identity=self.identity, station_id=admitted.station_id, accepted=admitted.accepted
        )
        self.committer = group_committer(asyncio.get_running_loop())
        global _gateway_loop
        _gateway_loop = asyncio.get_running_loop()
        if admitted.replaced_channel:
            await self.channel_layer.send(admitted.replaced_channel, {"type": "ocpp.replaced"})
        await self.accept(adapter_cls.subprotocol)
        self.sender = asyncio.create_task(self.send_calls())
        logger.info("%s connected with %s", self.identity, adapter_cls.subprotocol)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # daphne cancels an application whose socket is gone without always letting disconnect()
            # run; the call sender must not outlive it.
            if (sender := getattr(self, "sender", None)) is not None:
                sender.cancel()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections before every message, through a hop to the
        # thread-sensitive executor. Every database call here goes through database_sync_to_async,
        # which does that in its own thread, so the hop would only add latency to each frame.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def refuse(self, reason: str) -> None:
        logger.warning("%r refused: %s", self.identity, reason)
        await self.close()  # before accept(): the handshake is refused

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        assert self.adapter is not None
        text = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        processed = await self.committer.process(self.adapter, text)
        if processed.reply is not None:
            await self.send(text_data=processed.reply)
        if processed.response is not None:
            future = self.pending.get(processed.response.unique_id)
            if future is not None and not future.done():
                future.set_result(processed.response)

    async def disconnect(self, code: int) -> None:
        if self.adapter is None:
            return
        self.sender.cancel()
        unanswered = [self.in_flight] if self.in_flight else []
        while not self.outbox.empty():
            unanswered.append(self.outbox.get_nowait())
        for event in unanswered:
            await self.reply(event, {"status": "offline"})
        await in_thread_pool(registry.station_disconnect)(
            station_id=self.adapter.station_id, channel_name=self.channel_name
        )
        logger.info("%s disconnected (%s)", self.identity, code)

    # --- channel-layer events -----------------------------------------------------------------------
    async def ocpp_replaced(self, event: dict[str, Any]) -> None:
        logger.info("%s: a new connection replaces this one", self.identity)
        await self.close(code=REPLACED_CLOSE_CODE)

    async def ocpp_call(self, event: dict[str, Any]) -> None:
        """Queue a CSMS-initiated call; a spawned task sends it, so this handler never awaits the charger."""
        await self.channel_layer.send(event["reply_channel"], {"type": "ocpp.call.accepted"})
        self.outbox.put_nowait(event)

    async def send_calls(self) -> None:
        # OCPP-J: one CALL in flight per direction; the next waits for the answer or the timeout.
        while True:
            self.in_flight = await self.outbox.get()
            try:
                outcome = await self.call(self.in_flight)
            except Exception:
                logger.exception("%s: sending %s failed", self.identity, self.in_flight.get("action"))
                outcome = {"status": "error", "error_description": "The gateway failed to send the call."}
            await self.reply(self.in_flight, outcome)
            self.in_flight = None

    async def call(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.adapter is not None
        unique_id, action = event["unique_id"], event["action"]
        try:
            text = self.adapter.encode_call(unique_id, action, event["payload"])
        except FrameError as error:
            return {"status": "invalid", "error_description": error.description}
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        try:
            journaled = secrets_hidden(text, event.get("hidden", ()))
            await in_thread_pool(self.adapter.record_outgoing)(journaled, unique_id, action)
            await self.send(text_data=text)
            response = await asyncio.wait_for(future, timeout=event["timeout"])
        except TimeoutError:
            return {"status": "timeout"}
        finally:
            self.pending.pop(unique_id, None)
        if isinstance(response, CallResult):
            return {"status": "answered", "payload": response.payload}
        return {
            "status": "rejected",
            "error_code": response.code,
            "error_description": response.description,
            "details": response.details,
        }

    async def reply(self, event: dict[str, Any], outcome: dict[str, Any]) -> None:
        await self.channel_layer.send(
            event["reply_channel"], {"type": "ocpp.call.result", "unique_id": event["unique_id"], **outcome}
        )
