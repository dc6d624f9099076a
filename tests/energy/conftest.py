"""Every energy test starts with an empty cache: the debounce keys of earlier tests' sites (ids are
reused) would otherwise hold back a site's first recompute or replan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_debounce_keys() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
