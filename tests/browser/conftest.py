"""Headless Chromium, the system's and never a downloaded one, driving the portal on the live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.core.cache import cache
from django.db import connections

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Launch a headless Chromium per test, so no Playwright event loop outlives its test."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps its event loop running on the test's thread; the test's own ORM
    # calls are still plain synchronous ones, which Django's async-safety check would refuse.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        # With Playwright's loop running, the test's connections were kept per context (asgiref), out of
        # sight of pytest-django's teardown: close them while they are still visible, or PostgreSQL
        # refuses to drop the test database ("being accessed by other users").
        connections.close_all()
        chromium.close()


@pytest.fixture(autouse=True)
def rate_limits_reset() -> None:
    """Forget allauth's rate limits (kept in the cache), which earlier tests' sign-ups count towards."""
    cache.clear()
