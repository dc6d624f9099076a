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
    NOT_AT_THIS_LOCATION = "not_here", "Not allowed at this charger"
    NOT_AT_THIS_TIME = "not_now", "Not allowed at this time"


@dataclass(frozen=True)
class Authorization:
    status: AuthorizationStatus
    expires_at: datetime | None = None
    id_token_pk: int | None = None
    parent_id_tag: str = ""
    # When an access rule limits the session: the time by which it must end, and why.
    allowed_until: datetime | None = None
    limit: str = ""


# Id tags the CSMS makes for one session paid by card at the charger ("PAY-<payment id>"); drivers
# cannot register such a tag, and the portal does not list them among a driver's cards.
PAYMENT_TAG_PREFIX = "PAY-"


class Role(models.TextChoices):
    """What a staff member may do within an organization, from most to least."""

    OWNER = "owner", "Owner"  # everything, including who belongs
    MANAGER = "manager", "Manager"  # sites, chargers, cards, groups and rules
    TECHNICIAN = "technician", "Technician"  # sees everything, operates chargers
    VIEWER = "viewer", "Viewer"  # sees everything, changes nothing


# Roles allowed to change each kind of thing; everybody with a membership may view.
ROLES_MANAGING = frozenset({Role.OWNER, Role.MANAGER})
ROLES_OPERATING = frozenset({Role.OWNER, Role.MANAGER, Role.TECHNICIAN})
ROLES_OWNING = frozenset({Role.OWNER})
