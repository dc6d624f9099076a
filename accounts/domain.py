from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models


class AuthorizationStatus(models.TextChoices):
    """The answer to a driver's token, in both OCPP versions' vocabulary."""

    ACCEPTED = "accepted", "Accepted"
    BLOCKED = "blocked", "Blocked"
    EXPIRED = "expired", "Expired"
    INVALID = "invalid", "Invalid"
    CONCURRENT_TX = "concurrent_tx", "Already charging elsewhere"


@dataclass(frozen=True)
class Authorization:
    status: AuthorizationStatus
    expires_at: datetime | None = None
    id_token_pk: int | None = None
