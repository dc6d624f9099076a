"""Short-lived keys for debouncing and per-site locks: in Redis when REDIS_URL is set (the gateway and
the Celery workers share them), else in this process (the embedded mode runs in one process)."""

from __future__ import annotations

import functools
import threading
import time
from typing import Protocol

import redis
from django.conf import settings


class Keys(Protocol):
    def add(self, key: str, ttl_s: float) -> bool:
        """Set the key unless it is set; whether this call set it."""

    def delete(self, key: str) -> None: ...


class LocalKeys:
    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, key: str, ttl_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._expiry.get(key, 0.0) > now:
                return False
            self._expiry[key] = now + ttl_s
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._expiry.pop(key, None)


class RedisKeys:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5)

    def add(self, key: str, ttl_s: float) -> bool:
        return bool(self.client.set(key, b"1", nx=True, px=int(ttl_s * 1000)))

    def delete(self, key: str) -> None:
        self.client.delete(key)


@functools.cache
def _keys_for(url: str) -> Keys:
    return RedisKeys(url) if url else LocalKeys()


def keys() -> Keys:
    return _keys_for(settings.REDIS_URL)
