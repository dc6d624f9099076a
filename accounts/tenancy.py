"""Who may see and change what: staff see their organizations' things, superusers everything."""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from accounts.domain import Role
from accounts.models import Organization, User


def organizations_of(
    user: User | AnonymousUser, *, roles: Collection[Role] | None = None
) -> QuerySet[Organization]:
    """The organizations the user belongs to, with one of `roles` when given; all for a superuser."""
    if not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    memberships = user.memberships.all()
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return Organization.objects.filter(pk__in=memberships.values("organization_id"))


def organization_ids_of(user: User | AnonymousUser, *, roles: Collection[Role] | None = None) -> set[int]:
    return set(organizations_of(user, roles=roles).values_list("pk", flat=True))
