"""Diagnostics and logs requested from chargers (1.6 GetDiagnostics, 2.0.1 GetLog) and their uploads."""

from __future__ import annotations

from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "stations.diagnostics"
    label = "diagnostics"
    verbose_name = "Diagnostics"

    def ready(self) -> None:
        from stations import admin_commands
        from stations.diagnostics.commands import COMMAND

        # The chargers' admin builds its command actions from this registry on each request.
        admin_commands.COMMANDS.setdefault("diagnostics", COMMAND)
