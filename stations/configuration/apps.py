from __future__ import annotations

from django.apps import AppConfig


class ConfigurationConfig(AppConfig):
    name = "stations.configuration"
    label = "configuration"
    verbose_name = "Configuration profiles"

    def ready(self) -> None:
        from stations.configuration import receivers  # noqa: F401  (connects the signal receivers)
