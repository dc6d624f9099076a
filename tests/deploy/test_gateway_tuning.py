"""The gateway's garbage-collector tuning: survivors of a full collection are frozen, and once an hour
the freeze is lifted so that cycles among old objects are still freed."""

from __future__ import annotations

import gc

import pytest

from csms import gateway_tuning


@pytest.fixture
def tuned(monkeypatch):
    thresholds = gc.get_threshold()
    gateway_tuning.tune_garbage_collector()
    yield
    gc.callbacks.remove(gateway_tuning._freeze_survivors)
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_survivors_of_a_full_collection_are_frozen_and_later_collections_skip_them(tuned):
    survivor = Cycle()
    gc.collect()
    assert not any(obj is survivor for obj in gc.get_objects())  # frozen: no longer scanned


def test_after_the_sweep_interval_the_freeze_is_lifted_and_old_cycles_are_freed(tuned, monkeypatch):
    old = Cycle()
    gc.collect()  # freezes `old` with everything else
    monkeypatch.setattr(gateway_tuning, "_last_full_sweep", -gateway_tuning.FULL_SWEEP_INTERVAL_S)
    gc.collect()  # its end lifts the freeze
    assert gc.get_freeze_count() == 0
    del old
    assert gc.collect() >= 1  # the abandoned cycle is found again
