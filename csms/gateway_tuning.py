"""Process tuning for a gateway holding thousands of sockets, applied by csms.asgi.

With 5,000 chargers a daphne process tracks 550,000-850,000 objects, and a full (generation 2) garbage
collection stops the event loop for 450-730 ms (measured with a gc.callbacks hook on the project's
2-core VM): that alone set the reply latency p99 and max (bench/README.md). Reference counting frees
almost everything anyway; the collector is only needed for reference cycles.

So: freeze what exists after start-up (modules, Django, the URL and schema caches), make full
collections rarer, and after each full collection freeze its survivors, so that the next one looks
only at objects made since. Frozen objects are never collected, so once an hour the freeze is lifted
and the next full collection looks at everything, freeing the cycles of connections closed meanwhile:
one long pause an hour instead of one every minute or two.
"""

from __future__ import annotations

import gc
import time
from typing import Any

GENERATION_THRESHOLDS = (700, 10, 100)  # CPython's defaults are (700, 10, 10)
FULL_SWEEP_INTERVAL_S = 3600.0

_last_full_sweep = time.monotonic()


def tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GENERATION_THRESHOLDS)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    global _last_full_sweep
    if phase != "stop" or info["generation"] != 2:
        return
    now = time.monotonic()
    if now - _last_full_sweep >= FULL_SWEEP_INTERVAL_S:
        gc.unfreeze()  # the next full collection sees every object again
        _last_full_sweep = now
    else:
        gc.freeze()
