"""A charger on an in-process socket (Channels' WebsocketCommunicator), for tests that send it calls."""

from __future__ import annotations

import base64

from channels.testing import WebsocketCommunicator

from csms.asgi import application
from tests.factories import STATION_PASSWORD


def charger_communicator(
    identity: str, password: str = STATION_PASSWORD, subprotocol: str = "ocpp1.6"
) -> WebsocketCommunicator:
    """A charger (1.6 unless told) with its Basic credentials, not yet connected."""
    auth = base64.b64encode(f"{identity}:{password}".encode())
    return WebsocketCommunicator(
        application,
        f"/ocpp/{identity}",
        subprotocols=[subprotocol],
        headers=[(b"authorization", b"Basic " + auth)],
    )


async def connected_charger(
    identity: str, password: str = STATION_PASSWORD, subprotocol: str = "ocpp1.6"
) -> WebsocketCommunicator:
    charger = charger_communicator(identity, password, subprotocol)
    connected, negotiated = await charger.connect(timeout=10)
    assert connected and negotiated == subprotocol
    return charger
