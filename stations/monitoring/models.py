"""Monitoring: when each charger was connected, so that uptime has data, and the admin pages' entries."""

from __future__ import annotations

from django.db import models

from stations.models import Site


class ConnectionPeriod(models.Model):
    """One stretch of a charger being connected; open (no end) while it is."""

    station = models.ForeignKey(
        "stations.Station", on_delete=models.CASCADE, related_name="connection_periods"
    )
    connected_at = models.DateTimeField()
    disconnected_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(
        max_length=40, blank=True, help_text="Why it ended: socket closed, heartbeat overdue, replaced."
    )

    class Meta:
        ordering = ["-connected_at"]
        indexes = [models.Index(fields=["station", "connected_at"], name="connection_station_time")]

    def __str__(self) -> str:
        return f"{self.station_id} from {self.connected_at:%Y-%m-%d %H:%M:%S}"


class NetworkDashboard(Site):
    """The admin index entry of the live network dashboard (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "network dashboard"


class UptimeReport(Site):
    """The admin index entry of the availability report."""

    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "uptime report"
