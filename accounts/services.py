from __future__ import annotations

from datetime import datetime

from django.db.models.functions import Lower

from accounts.domain import Authorization, AuthorizationStatus
from accounts.models import IdToken, IdTokenStatus


def id_token_authorize(*, id_tag: str, at: datetime | None = None) -> Authorization:
    """Decide whether the token may charge; unknown tokens are Invalid."""
    # idTag is case-insensitive (CiString); LOWER() matches the unique index.
    token = IdToken.objects.alias(tag=Lower("id_tag")).filter(tag=id_tag.lower()).first()
    if token is None:
        return Authorization(status=AuthorizationStatus.INVALID)
    if token.status == IdTokenStatus.BLOCKED:
        status = AuthorizationStatus.BLOCKED
    elif token.is_expired(at):
        status = AuthorizationStatus.EXPIRED
    else:
        status = AuthorizationStatus.ACCEPTED
    return Authorization(
        status=status, expires_at=token.expires_at, id_token_pk=token.pk, parent_id_tag=token.parent_id_tag
    )


def id_token_create(
    *,
    id_tag: str,
    status: str = IdTokenStatus.ACCEPTED,
    expires_at: datetime | None = None,
    owner_email: str | None = None,
    label: str = "",
) -> IdToken:
    """Register a token; the owner, when given, must be an existing user."""
    from accounts.models import User

    owner = User.objects.get(email__iexact=owner_email) if owner_email else None
    token = IdToken(id_tag=id_tag, status=status, expires_at=expires_at, owner=owner, label=label)
    token.full_clean()
    token.save()
    return token
