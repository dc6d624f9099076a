"""Read-only questions about accounts."""

from __future__ import annotations

from accounts.models import AccessGroup, AccessGroupMember, IdToken


def id_token_group_ids(token_pk: int) -> set[int]:
    """The access groups a card belongs to, directly or through its owner's email address."""
    groups = set(AccessGroup.objects.filter(id_tokens=token_pk).values_list("pk", flat=True))
    owner_email = IdToken.objects.filter(pk=token_pk).values_list("owner__email", flat=True).first()
    if owner_email:
        members = AccessGroupMember.objects.filter(email__iexact=owner_email)
        groups.update(members.values_list("group_id", flat=True))
    return groups
