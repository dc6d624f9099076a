"""Simulated chargers updating their firmware over the live gateway, with the campaign job run by hand or
left to the gateway (and a Celery worker)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from channels.db import database_sync_to_async
from django.core.files.base import ContentFile

from accounts.models import Organization
from stations.firmware.models import FirmwareCampaign, FirmwareFile, FirmwareUpdate
from stations.firmware.services import firmware_campaigns_advance, firmware_file_record
from stations.models import Frame, Station
from stations.simulator import firmware as simulated_firmware
from stations.simulator.charger import ChargerOptions, SimulatedCharger
from stations.simulator.drivers import TagPool
from tests.conftest import LiveGateway
from tests.factories import STATION_PASSWORD, SiteFactory, StationFactory

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_ROOT = ROOT / "var" / "test-firmware"
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


def firmware_gateway(gateways: Callable[..., LiveGateway], settings: Any) -> LiveGateway:
    """The gateway on Redis (the test process sends the campaign's calls), serving the stored images."""
    from tests.conftest import redis_test_url

    url = redis_test_url()
    gateway = gateways("firmware", REDIS_URL=url, CSMS_FIRMWARE_ROOT=str(FIRMWARE_ROOT))
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    settings.SITE_URL = f"http://127.0.0.1:{gateway.port}"
    settings.CSMS_FIRMWARE_ROOT = str(FIRMWARE_ROOT)
    return gateway


def fleet(prefix: str, count: int) -> tuple[Organization, list[Station]]:
    organization = Organization.objects.create(name=f"Fleet {prefix}")
    site = SiteFactory(organization=organization)
    return organization, [StationFactory(identity=f"{prefix}-{n}", site=site) for n in range(1, count + 1)]


def stored_firmware(organization: Organization, version: str, **fields: Any) -> FirmwareFile:
    firmware = FirmwareFile(
        organization=organization, vendor="CSMS-Sim", model="Virtual AC 22", version=version, **fields
    )
    if not firmware.url:
        firmware.file.save(
            f"vac22-{version}.bin", ContentFile(simulated_firmware.image_bytes(version)), save=False
        )
        firmware_file_record(firmware=firmware)
    firmware.full_clean()
    firmware.save()
    return firmware


def campaign_of(firmware: FirmwareFile, stations: list[Station], **fields: Any) -> FirmwareCampaign:
    campaign = FirmwareCampaign.objects.create(
        organization=firmware.organization, name=f"To {firmware.version}", firmware=firmware, **fields
    )
    campaign.stations.set(stations)
    return campaign


def in_thread(run: Callable[[], Any]) -> Any:
    return database_sync_to_async(run, thread_sensitive=False)()


def active_count(campaign_id: int) -> int:
    return FirmwareUpdate.objects.filter(campaign_id=campaign_id).active().count()


async def drive(
    gateway: LiveGateway,
    ocpp: str,
    identities: list[str],
    *,
    campaign_id: int,
    until: Callable[[], bool],
    timeout_s: float = 40.0,
    steps: list[Callable[[], Any]] | None = None,
    job: Callable[[], Any] | None = firmware_campaigns_advance,
) -> tuple[dict[str, SimulatedCharger], list[int]]:
    """Run the chargers and the campaign `job` (every 0.1 s; None: the gateway's own runs only) until
    `until()`; between runs, carry out each of `steps` in turn once it returns something truthy. Return
    the chargers and the active counts seen."""
    chargers = {
        identity: SimulatedCharger(
            identity,
            ChargerOptions(
                url=gateway.url, password=STATION_PASSWORD, session_every_s=1000.0, strict=True, ocpp=ocpp
            ),
            tags=TagPool([]),
        )
        for identity in identities
    }
    tasks = [asyncio.create_task(charger.run()) for charger in chargers.values()]
    seen: list[int] = []
    pending_steps = list(steps or [])
    try:
        for charger in chargers.values():
            await asyncio.wait_for(charger.online.wait(), 10)
        online = Station.objects.filter(identity__in=identities, is_online=True).count
        for _ in range(100):
            if await in_thread(online) == len(identities):
                break
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + timeout_s
        while True:
            if job is not None:
                await in_thread(job)
            seen.append(await in_thread(lambda: active_count(campaign_id)))
            while pending_steps and await in_thread(pending_steps[0]):
                pending_steps.pop(0)
            if not pending_steps and await in_thread(until):
                break
            if time.monotonic() > deadline:
                raise AssertionError("the campaign did not get there in time")
            await asyncio.sleep(0.1)
    finally:
        for charger in chargers.values():
            charger.halt()
        await asyncio.gather(*tasks)
    return chargers, seen


def boot_reasons(identity: str) -> list[str | None]:
    """The reason of each BootNotification the charger sent (1.6 has none)."""
    frames = Frame.objects.filter(identity=identity, action="BootNotification", message_type=2)
    return [json.loads(frame.text)[3].get("reason") for frame in frames.order_by("pk")]


@contextmanager
def image_server(image: bytes) -> Iterator[str]:
    """Serve `image` over HTTP from this process (an image elsewhere than the CSMS); its URL."""

    class Image(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            self.send_response(200)
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Image)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/vac22.bin"
    finally:
        server.shutdown()
        server.server_close()
