"""Alerts: faults, long offline periods, stuck sessions, failed boots and reconnects, with their
evidence and notifications."""

from __future__ import annotations

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "stations.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from stations.alerts import receivers  # noqa: F401  (connects them)
