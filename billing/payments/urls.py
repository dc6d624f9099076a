"""Payment pages and the webhook."""

from __future__ import annotations

urlpatterns: list = []
