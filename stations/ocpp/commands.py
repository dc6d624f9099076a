"""CSMS-initiated calls, from any process: the admin, a management command or a Celery worker.

The call travels over the channel layer to the consumer that holds the charger's socket (in whichever
daphne process that is), which acknowledges it at once and later returns the charger's answer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from stations.credentials import secrets_hidden
from stations.domain import CallStatus
from stations.exceptions import CallRejected, CallTimeout, InvalidCall, StationNotFound, StationOffline
from stations.models import OutgoingCall, Station
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.framing import FrameError


def _prepare(
    identity: str, action: str, payload: dict[str, Any], requested_by: str, hidden: Sequence[str]
) -> tuple[OutgoingCall, str]:
    station = Station.objects.filter(identity=identity).first()
    stored = json.loads(secrets_hidden(json.dumps(payload), hidden)) if hidden else payload
    if station is None:
        raise StationNotFound(f"No charger {identity!r}.")
    unique_id = str(uuid.uuid4())
    adapter = ADAPTERS.get(station.protocol)
    if adapter is None:
        call = OutgoingCall.objects.create(
            station=station,
            unique_id=unique_id,
            action=action,
            payload=stored,
            requested_by=requested_by[:150],
        )
        _finish(call, CallStatus.OFFLINE, error_description="The charger has never connected.")
        raise StationOffline(f"{identity} has never connected, so its OCPP version is unknown.")
    try:
        adapter.encode_call(unique_id, action, payload)
    except FrameError as error:
        raise InvalidCall(error.description) from None
    call = OutgoingCall.objects.create(
        station=station, unique_id=unique_id, action=action, payload=stored, requested_by=requested_by[:150]
    )
    if not station.is_online or not station.channel_name:
        _finish(call, CallStatus.OFFLINE, error_description="The charger is offline.")
        raise StationOffline(f"{identity} is offline.")
    return call, station.channel_name


def _finish(call: OutgoingCall, status: CallStatus, **fields: Any) -> None:
    call.status, call.completed_at = status, timezone.now()
    for name, value in fields.items():
        setattr(call, name, value)
    call.save(update_fields=["status", "completed_at", *fields])


async def station_call_async(
    *,
    identity: str,
    action: str,
    payload: dict[str, Any] | None = None,
    timeout: float | None = None,
    requested_by: str = "",
    hidden: Sequence[str] = (),
) -> dict[str, Any]:
    """Send a call to the charger and return its answer's payload; raise a StationError otherwise.

    `hidden`: strings of the payload never stored (a URL's one-time token): the command's record and the
    frame journal show "…" in their place."""
    payload = payload or {}
    timeout = timeout or settings.CSMS_CALL_TIMEOUT_S
    call, channel = await database_sync_to_async(_prepare)(identity, action, payload, requested_by, hidden)
    finish = database_sync_to_async(_finish)
    layer = get_channel_layer()
    reply_channel = await layer.new_channel()
    await layer.send(
        channel,
        {
            "type": "ocpp.call",
            "unique_id": call.unique_id,
            "action": action,
            "payload": payload,
            "timeout": timeout,
            "reply_channel": reply_channel,
            "hidden": list(hidden),
        },
    )
    try:
        await asyncio.wait_for(layer.receive(reply_channel), settings.CSMS_CALL_ACK_TIMEOUT_S)
    except TimeoutError:
        hint = (
            "" if settings.REDIS_URL else " (REDIS_URL is unset: only this process's sockets are reachable)"
        )
        await finish(call, CallStatus.OFFLINE, error_description="No gateway process holds the socket.")
        raise StationOffline(f"{identity}: no gateway process holds its socket{hint}.") from None
    try:
        # The call may wait behind others to the same charger; the consumer times out each in turn.
        outcome = await asyncio.wait_for(
            layer.receive(reply_channel), timeout * 4 + settings.CSMS_CALL_ACK_TIMEOUT_S
        )
    except TimeoutError:
        outcome = {"status": "timeout"}
    status = outcome["status"]
    if status == "answered":
        await finish(call, CallStatus.ANSWERED, response=outcome["payload"])
        return outcome["payload"]
    if status == "rejected":
        await finish(
            call,
            CallStatus.REJECTED,
            error_code=outcome["error_code"][:50],
            error_description=outcome["error_description"][:500],
            response=outcome.get("details"),
        )
        raise CallRejected(outcome["error_code"], outcome["error_description"], outcome.get("details"))
    if status == "offline":
        await finish(call, CallStatus.OFFLINE, error_description="The charger disconnected.")
        raise StationOffline(f"{identity} disconnected before answering.")
    if status == "timeout":
        await finish(call, CallStatus.TIMEOUT, error_description=f"No answer within {timeout:g} s.")
        raise CallTimeout(f"{identity} did not answer {action} within {timeout:g} s.")
    await finish(call, CallStatus.REJECTED, error_description=outcome.get("error_description", status)[:500])
    raise InvalidCall(outcome.get("error_description", status))


def station_call(**kwargs: Any) -> dict[str, Any]:
    """Synchronous station_call_async, for the admin, management commands and Celery tasks."""
    return async_to_sync(station_call_async)(**kwargs)


Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def each_at_once(call: Callable[[Item], Awaitable[Outcome]], items: Sequence[Item]) -> list[Outcome]:
    """From synchronous code, run `call` for every item (a charger, a session) at the same time, so that a
    slow charger does not hold the others up; the outcomes in the items' order."""
    if not items:
        return []

    async def all_at_once() -> list[Outcome]:
        return list(await asyncio.gather(*(call(item) for item in items)))

    return async_to_sync(all_at_once)()
