from __future__ import annotations

from django.apps import AppConfig


class ConfigurationConfig(AppConfig):
    name = "stations.configuration"
    label = "configuration"
    verbose_name = "Configuration profiles"
