from __future__ import annotations

from django.apps import AppConfig


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy management"
