from __future__ import annotations

from django.apps import AppConfig


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy management"

    def ready(self) -> None:
        from energy import receivers, receivers_fleet  # noqa: F401  (connects them)
