"""A charger on an in-process socket (Channels' WebsocketCommunicator), for tests that send it calls."""

from __future__ import annotations

import base64

from channels.testing import WebsocketCommunicator

from csms.asgi import application
from tests.factories import STATION_PASSWORD


def charger_communicator(identity: str, password: str = STATION_PASSWORD) -> WebsocketCommunicator:
    """A 1.6 charger with its Basic credentials, not yet connected."""
    auth = base64.b64encode(f"{identity}:{password}".encode())
    return WebsocketCommunicator(
        application,
        f"/ocpp/{identity}",
        subprotocols=["ocpp1.6"],
        headers=[(b"authorization", b"Basic " + auth)],
    )


async def connected_charger(identity: str, password: str = STATION_PASSWORD) -> WebsocketCommunicator:
    charger = charger_communicator(identity, password)
    connected, subprotocol = await charger.connect(timeout=10)
    assert connected and subprotocol == "ocpp1.6"
    return charger
