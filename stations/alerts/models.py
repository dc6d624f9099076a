"""Alerts: models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from stations.alerts.domain import AlertKind, Attempt, NotificationEvent, Severity
from stations.models import Site, Station


class AlertQuerySet(models.QuerySet["Alert"]):
    def open(self) -> AlertQuerySet:
        return self.filter(closed_at__isnull=True)


class Alert(models.Model):
    """A condition worth an operator's attention, open until it clears; `key` names the condition."""

    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    key = models.CharField(max_length=200, help_text="At most one open alert per key.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    summary = models.CharField(max_length=300)
    evidence = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1, help_text="How many times the condition was reported.")
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=300, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(closed_at__isnull=True), name="alert_one_open_per_key"
            )
        ]
        indexes = [models.Index(fields=["kind", "closed_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class AlertNotification(models.Model):
    """One notice of an alert to one recipient over one channel; a retry finds it and sends nothing twice."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(
        max_length=8, choices=NotificationEvent.choices, default=NotificationEvent.OPENED
    )
    channel = models.CharField(max_length=40)
    recipient = models.CharField(max_length=254)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "event", "channel", "recipient"], name="alert_notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.event})"


class ConnectionAttempt(models.Model):
    """A charger's connection or boot and how it went, kept briefly to count repetitions."""

    id = models.BigAutoField(primary_key=True)
    identity = models.CharField(max_length=48)
    station = models.ForeignKey(Station, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=20, choices=Attempt.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["identity", "at"])]

    def __str__(self) -> str:
        return f"{self.identity} {self.outcome} at {self.at:%Y-%m-%d %H:%M:%S}"
