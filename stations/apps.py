from __future__ import annotations

from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    verbose_name = "Chargers"

    def ready(self) -> None:
        from stations import receivers  # noqa: F401  (connects them)
