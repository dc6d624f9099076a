from __future__ import annotations

from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "stations.diagnostics"
    label = "diagnostics"
    verbose_name = "Diagnostics"
