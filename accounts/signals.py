"""Signals other apps listen to; sent after the transaction commits."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

from accounts.models import AccessGroup, IdToken
from accounts.selectors import id_token_group_ids

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
    groups = AccessGroup.objects.filter(pk__in=id_token_group_ids(token.pk))
    return {token.organization_id, *groups.values_list("organization_id", flat=True)}
