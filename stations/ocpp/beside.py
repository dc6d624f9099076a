"""Work that calls chargers, run beside the gateway where there is no Celery (no Redis).

Without Redis (one process, the in-memory channel layer) the channel layer lives in the gateway's event
loop only, so work that calls chargers must run in that loop. Never inline in a consumer: a call sent
synchronously from a charger's consumer waits on consumers that may be busy, that one among them; the
work is scheduled in the loop as a task of its own. A process holding no sockets (a test, a command)
runs it in a thread of its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connections

from stations.ocpp.consumer import gateway_loop

logger = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, Any]]

# The tasks started here, until they end: the loop keeps only weak references to its tasks.
tasks_running: set[asyncio.Task[Any]] = set()


def run_beside_gateway(job: Job, *, what: str, delay_s: float = 0.0) -> None:
    """Run the coroutine `job()` in `delay_s`, in the gateway's loop or else in a thread; its failure is
    logged with `what` (the work in the logs' words). Callable from any thread."""
    loop = gateway_loop()
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(loop.call_later, delay_s, _start, loop, job, what)
        return
    timer = threading.Timer(delay_s, _in_thread, args=(job, what))
    timer.daemon = True
    timer.start()


def task_keep(task: asyncio.Task[Any], *, what: str) -> None:
    """Hold a task started in the loop until it ends, and log its failure."""
    tasks_running.add(task)
    task.add_done_callback(functools.partial(_finished, what=what))


def _start(loop: asyncio.AbstractEventLoop, job: Job, what: str) -> None:
    task_keep(loop.create_task(job()), what=what)


def _finished(task: asyncio.Task[Any], *, what: str) -> None:
    tasks_running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s failed", what, exc_info=task.exception())


def _in_thread(job: Job, what: str) -> None:
    try:
        async_to_sync(job)()
    except Exception:
        logger.exception("%s failed", what)
    finally:
        connections.close_all()
