"""A charger on an in-process socket (Channels' WebsocketCommunicator), for tests that send it calls."""

from __future__ import annotations

import base64

from channels.testing import WebsocketCommunicator

from csms.asgi import application
from tests.factories import STATION_PASSWORD


async def connected_charger(identity: str, password: str = STATION_PASSWORD) -> WebsocketCommunicator:
    auth = base64.b64encode(f"{identity}:{password}".encode())
    charger = WebsocketCommunicator(
        application,
        f"/ocpp/{identity}",
        subprotocols=["ocpp1.6"],
        headers=[(b"authorization", b"Basic " + auth)],
    )
    connected, subprotocol = await charger.connect(timeout=10)
    assert connected and subprotocol == "ocpp1.6"
    return charger
