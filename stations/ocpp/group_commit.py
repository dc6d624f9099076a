"""Group commit: the frames that arrive while the database threads are busy share one transaction.

Each frame is still committed before its reply, as the charger is owed; what is shared under load is
the hop to a database thread, BEGIN/COMMIT and the journal's INSERT. At low load a batch is one
frame and nothing waits. One charger has at most one call in flight (OCPP-J), and its consumer waits
for each reply, so a charger's frames keep their order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from concurrent.futures import Executor

from django.db import close_old_connections, transaction

from stations.ocpp.base import Processed, ProtocolAdapter
from stations.services.bulk import rows_deferred
from stations.services.journal import frames_record

logger = logging.getLogger(__name__)


def frames_process(items: Sequence[tuple[ProtocolAdapter, str]]) -> list[Processed]:
    """Handle frames from several connections in one transaction, replies in the same order.

    A failure anywhere (a handler's error, a constraint checked at COMMIT) rolls the whole batch
    back, and each frame is then handled alone, as if it had arrived by itself: the failing one gets
    its CallError and the others their answers. Nothing is half-written.
    """
    close_old_connections()  # as database_sync_to_async does around each call
    try:
        if len(items) == 1:
            adapter, text = items[0]
            return [adapter.process(text)]
        try:
            return _process_together(items)
        except Exception:
            logger.info("a batch of %d frames failed; handling them one by one", len(items))
            for adapter, _ in items:
                adapter.forget()
            return [adapter.process(text) for adapter, text in items]
    finally:
        close_old_connections()


def _process_together(items: Sequence[tuple[ProtocolAdapter, str]]) -> list[Processed]:
    with transaction.atomic(), rows_deferred():
        outcomes = []
        for adapter, text in items:
            received = adapter.receive(text)
            outcomes.append(received if isinstance(received, Processed) else adapter.respond(received))
        frames_record(records=[record for outcome in outcomes for record in outcome.records])
    return outcomes


class GroupCommitter:
    """Collects frames in the event loop and hands them to the database threads in batches.

    At most `batches_in_flight` batches run at once; frames arriving meanwhile wait for the next one
    (up to `batch_size` frames). Fewer, larger batches cost less CPU than one thread hop and
    transaction per frame; a few in flight let one batch's COMMIT overlap the next one's work.
    """

    def __init__(self, executor: Executor, *, batches_in_flight: int, batch_size: int) -> None:
        self.executor = executor
        self.batches_in_flight = batches_in_flight
        self.batch_size = batch_size
        self.waiting: list[tuple[ProtocolAdapter, str, asyncio.Future[Processed]]] = []
        self.running = 0
        self.flush_scheduled = False

    async def process(self, adapter: ProtocolAdapter, text: str) -> Processed:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Processed] = loop.create_future()
        self.waiting.append((adapter, text, future))
        if not self.flush_scheduled:
            # Let the other frames read in this turn of the event loop join the same batch.
            self.flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self.flush_scheduled = False
        loop = asyncio.get_running_loop()
        while self.waiting and self.running < self.batches_in_flight:
            batch, self.waiting = self.waiting[: self.batch_size], self.waiting[self.batch_size :]
            self.running += 1
            done = loop.run_in_executor(self.executor, frames_process, [(a, t) for a, t, _ in batch])
            done.add_done_callback(functools.partial(self._finished, batch))

    def _finished(
        self,
        batch: list[tuple[ProtocolAdapter, str, asyncio.Future[Processed]]],
        done: asyncio.Future[list[Processed]],
    ) -> None:
        self.running -= 1
        error = done.exception()
        for index, (_, _, future) in enumerate(batch):
            if future.done():  # its consumer was cancelled (the socket went away)
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result()[index])
        self._flush()
