"""What energy does when stations reports a change: schedule a recompute of the site, debounced.

Receivers run after the gateway's commit, in its thread: they must be quick and must never raise (the
charger's message is already committed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.dispatch import receiver

from energy.services import triggers
from energy.tasks import station_after_boot_task
from stations.signals import (
    meter_sampled,
    session_ended,
    session_started,
    station_booted,
    station_disconnected,
)

logger = logging.getLogger(__name__)


def never_raising(handler: Callable[..., None]) -> Callable[..., None]:
    @wraps(handler)
    def safe(*args: Any, **kwargs: Any) -> None:
        try:
            handler(*args, **kwargs)
        except Exception:
            logger.exception("%s failed", handler.__name__)

    return safe


def _soon(site_id: int | None) -> None:
    if site_id is not None:
        triggers.site_rebalance_soon(site_id)


@receiver(session_started)
@never_raising
def rebalance_on_session_start(sender: Any, *, station_id: int, **kwargs: Any) -> None:
    _soon(triggers.balanced_site_of_station(station_id))


@receiver(session_ended)
@never_raising
def rebalance_on_session_end(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    _soon(triggers.balanced_site_of_session(session_id))


@receiver(station_disconnected)
@never_raising
def rebalance_on_disconnect(sender: Any, *, station_id: int, **kwargs: Any) -> None:
    _soon(triggers.balanced_site_of_station(station_id))


@receiver(station_booted)
@never_raising
def resend_on_boot(sender: Any, *, station_id: int, **kwargs: Any) -> None:
    station_after_boot_task.delay(station_id=station_id)


@receiver(meter_sampled)
@never_raising
def rebalance_on_draw_change(
    sender: Any,
    *,
    station_id: int,
    evse_id: int,
    session_id: int,
    current_a: Any,
    sampled_at: Any,
    **kwargs: Any,
) -> None:
    _soon(
        triggers.meter_sample_check(
            station_id=station_id,
            evse_id=evse_id,
            session_id=session_id,
            current_a=current_a,
            sampled_at=sampled_at,
        )
    )
