from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class User(AbstractUser):
    """Staff, property managers and drivers alike; roles and organizations come with tenancy."""

    email = models.EmailField("email address", blank=True)


class IdTokenStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    BLOCKED = "blocked", "Blocked"


class IdToken(models.Model):
    """An RFID card or other identifier a driver presents at a charger."""

    id_tag = models.CharField(
        max_length=36, help_text="As the charger reports it (1.6 idTag, 2.0.1 idToken); case-insensitive."
    )
    status = models.CharField(max_length=16, choices=IdTokenStatus.choices, default=IdTokenStatus.ACCEPTED)
    expires_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="id_tokens"
    )
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ID token"
        ordering = ["id_tag"]
        constraints = [
            # OCPP compares id tags case-insensitively (CiString), so must we.
            models.UniqueConstraint(
                Lower("id_tag"),
                name="id_token_tag_unique",
                violation_error_message="An ID token with this id tag already exists (tags ignore case).",
            )
        ]

    def __str__(self) -> str:
        return self.id_tag

    def is_expired(self, at: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (at or timezone.now())
