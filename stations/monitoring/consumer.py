"""The dashboard's WebSocket: logged-in staff only; each joins the groups of the sites they may see,
gets their figures at once, then every push for those sites. Transport only (services/dashboard, push)."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from stations.monitoring.services.dashboard import dashboard_sites, sites_messages
from stations.monitoring.services.push import dashboard_loop_set, site_group


def _watchable_site_ids(user: Any) -> list[int]:
    return [site.pk for site in dashboard_sites(user)]


def _snapshot(site_ids: list[int]) -> list[dict[str, Any]]:
    return sites_messages(site_ids)


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    site_ids: list[int]

    async def connect(self) -> None:
        self.site_ids = []
        user = self.scope.get("user")
        if user is None or not (user.is_authenticated and user.is_active and user.is_staff):
            await self.close()  # before accept(): the handshake is refused
            return
        self.site_ids = await database_sync_to_async(_watchable_site_ids)(user)
        dashboard_loop_set(asyncio.get_running_loop())
        for site_id in self.site_ids:
            await self.channel_layer.group_add(site_group(site_id), self.channel_name)
        await self.accept()
        await self.send_json(
            {"type": "snapshot", "sites": await database_sync_to_async(_snapshot)(self.site_ids)}
        )

    async def disconnect(self, code: int) -> None:
        for site_id in self.site_ids:
            await self.channel_layer.group_discard(site_group(site_id), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        pass  # the dashboard only listens

    async def monitoring_site(self, event: dict[str, Any]) -> None:
        if event["site"]["site_id"] in self.site_ids:
            await self.send_json({"type": "site", "site": event["site"]})
