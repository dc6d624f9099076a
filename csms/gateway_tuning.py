"""Process tuning for a gateway holding thousands of sockets, applied by csms.asgi.

With 5,000 chargers a daphne process tracks some 700,000 objects, and every full (generation 2)
garbage collection stopped the event loop for 400-620 ms, every 6-50 s: that alone set the reply
latency p99 (bench/README.md). Freezing what exists after start-up (modules, Django, the URL and
schema caches) takes it out of every later collection, and a higher generation-2 threshold makes full
collections rare; reference counting still frees almost everything at once.
"""

from __future__ import annotations

import gc

GENERATION_THRESHOLDS = (700, 10, 100)  # CPython's defaults are (700, 10, 10)


def tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GENERATION_THRESHOLDS)
