from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "stations.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from stations.monitoring import receivers  # noqa: F401  (connects the receivers)
