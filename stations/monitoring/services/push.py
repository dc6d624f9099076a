"""Pushing site figures (the row, and today's bar of the per-day charts) to the open dashboards: each
site's group on the channel layer, at most one push per site every THROTTLE_S seconds (a later change in
that window is pushed at its end).

The work runs on one thread of its own, so the gateway's threads that committed a charger's message do
not wait for the dashboard's queries."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import close_old_connections

from stations.models import Site, Station
from stations.monitoring.services.dashboard import site_message

logger = logging.getLogger(__name__)

THROTTLE_S = 2.0

_dashboard_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()
_last_push: dict[int, float] = {}
_pending: set[int] = set()


def site_group(site_id: int) -> str:
    return f"monitoring.site.{site_id}"


def dashboard_loop_set(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the loop holding dashboard sockets: the in-memory channel layer lives in it alone."""
    global _dashboard_loop
    _dashboard_loop = loop


def _listeners_possible() -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    if isinstance(layer, InMemoryChannelLayer):  # only dashboards of this process could listen
        return _dashboard_loop is not None and not _dashboard_loop.is_closed()
    return True


@functools.cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitoring-push")


def station_changed(station_id: int) -> None:
    """Something of the charger changed: have its site's dashboards updated (throttled)."""
    if _listeners_possible():
        _executor().submit(_station_changed, station_id)


def _station_changed(station_id: int) -> None:
    close_old_connections()
    try:
        site_id = Station.objects.filter(pk=station_id).values_list("site_id", flat=True).first()
        if site_id is not None:
            _site_due(site_id)
    except Exception:  # a dashboard misses one update; the gateway must not notice
        logger.exception("pushing the figures of charger %s failed", station_id)
    finally:
        close_old_connections()  # as after a request: CONN_MAX_AGE decides whether it stays open


def _site_due(site_id: int) -> None:
    with _lock:
        wait = _last_push.get(site_id, 0.0) + THROTTLE_S - time.monotonic()
        if wait > 0:
            if site_id not in _pending:
                _pending.add(site_id)
                timer = threading.Timer(wait, lambda: _executor().submit(_pending_push, site_id))
                timer.daemon = True
                timer.start()
            return
        _last_push[site_id] = time.monotonic()
    site_push(site_id)


def _pending_push(site_id: int) -> None:
    close_old_connections()
    with _lock:
        _pending.discard(site_id)
        _last_push[site_id] = time.monotonic()
    try:
        site_push(site_id)
    except Exception:
        logger.exception("pushing the figures of site %s failed", site_id)
    finally:
        close_old_connections()


def site_push(site_id: int) -> None:
    """Send the site's figures (its row and today's per-day figures) now to every dashboard watching it."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return
    message = {"type": "monitoring.site", "site": site_message(site)}
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        if _dashboard_loop is not None and not _dashboard_loop.is_closed():
            asyncio.run_coroutine_threadsafe(layer.group_send(site_group(site_id), message), _dashboard_loop)
    elif layer is not None:
        async_to_sync(layer.group_send)(site_group(site_id), message)
