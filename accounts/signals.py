"""Signals other apps listen to; sent after the transaction commits."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

from accounts.models import AccessGroup, AccessGroupMember, IdToken

# Who may charge changed: cards, groups or their members. organization_ids: the organizations whose
# sites are affected, as a list of ints.
access_changed = Signal()


def access_changed_on_commit(*, organization_ids: Iterable[int | None]) -> None:
    """Tell listeners (the chargers' local lists) once the current transaction commits."""
    ids = sorted({pk for pk in organization_ids if pk is not None})
    if ids:
        transaction.on_commit(lambda: access_changed.send(sender=AccessGroup, organization_ids=ids))


def id_token_organizations(token: IdToken) -> set[int | None]:
    """The organizations whose sites may list this card: its issuer and those of its groups."""
    organizations = {token.organization_id}
    organizations.update(token.access_groups.values_list("organization_id", flat=True))
    owner_email = token.owner.email if token.owner_id else ""
    if owner_email:
        members = AccessGroupMember.objects.filter(email__iexact=owner_email)
        organizations.update(members.values_list("group__organization_id", flat=True))
    return organizations
