from __future__ import annotations

from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    name = "stations.firmware"
    label = "firmware"
    verbose_name = "Firmware"
