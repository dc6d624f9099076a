"""Receipt and invoice pages."""

from __future__ import annotations

urlpatterns: list = []
