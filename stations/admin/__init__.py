"""The admin: the property managers' view of sites, chargers, sessions, commands and the OCPP journal."""

from __future__ import annotations

from django.contrib import admin

from stations.admin import chargers, logs, sessions

__all__ = ["chargers", "logs", "sessions"]

admin.site.site_header = "CSMS"
admin.site.site_title = "CSMS admin"
admin.site.index_title = "Charging stations"
