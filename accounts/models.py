from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.domain import Role


class User(AbstractUser):
    """Staff, property managers and drivers alike. Staff belong to organizations through memberships;
    drivers sign in on the portal with their email address."""

    email = models.EmailField("email address", blank=True)

    class Meta(AbstractUser.Meta):
        constraints = [
            # Drivers log in with their email: one account per address, whatever its case.
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="user_email_unique",
                violation_error_message="A user with this email address already exists.",
            )
        ]


class OrganizationKind(models.TextChoices):
    OPERATOR = "operator", "Charging operator"
    PROPERTY = "property", "Property owner or manager"
    FLEET = "fleet", "Fleet"


class Organization(models.Model):
    """Who owns sites and cards: an operator, a property owner or a fleet. Staff see only their own."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(
        max_length=16, choices=OrganizationKind.choices, default=OrganizationKind.PROPERTY
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A staff user's role in one organization."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["organization", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                name="membership_unique",
                violation_error_message="This user already belongs to this organization.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()} of {self.organization})"


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
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="id_tokens",
        help_text="The driver who carries the card.",
    )
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="id_tokens",
        help_text="The organization that issued the card and manages it (a fleet, a property).",
    )
    parent_id_tag = models.CharField(
        max_length=36,
        blank=True,
        help_text="Group id shared by a fleet's cards (OCPP parentIdTag / groupIdToken).",
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


class AccessGroup(models.Model):
    """People who may charge under the same rules: the residents of a building, a company's fleet.

    Members are cards, listed directly, and drivers, listed by email address: a resident's own cards
    count from the moment they sign up with that address."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="access_groups")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    id_tokens = models.ManyToManyField(
        IdToken, blank=True, related_name="access_groups", verbose_name="cards"
    )

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="access_group_unique",
                violation_error_message="This organization already has a group with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class AccessGroupMember(models.Model):
    """A driver in an access group, by email address: their cards are the group's."""

    group = models.ForeignKey(AccessGroup, on_delete=models.CASCADE, related_name="members")
    email = models.EmailField()

    class Meta:
        ordering = ["email"]
        verbose_name = "driver"
        constraints = [
            models.UniqueConstraint(
                "group",
                Lower("email"),
                name="access_group_member_unique",
                violation_error_message="This address is already in the group.",
            )
        ]

    def __str__(self) -> str:
        return self.email
