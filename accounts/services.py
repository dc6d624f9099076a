from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from accounts.domain import PAYMENT_TAG_PREFIX, Authorization, AuthorizationStatus
from accounts.models import IdToken, IdTokenStatus, User
from accounts.signals import access_changed_on_commit, id_token_organizations

# Said whoever holds the tag: a driver must not learn whose card a number belongs to.
TAG_TAKEN = "This card is already registered. If it is yours, ask the operator of your charging sites."


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


def id_token_register_for_driver(*, user: User, id_tag: str, label: str = "") -> IdToken:
    """Register a card the driver carries, refusing a tag that anyone has registered already."""
    id_tag, label = id_tag.strip(), label.strip()
    if id_tag.upper().startswith(PAYMENT_TAG_PREFIX):
        raise ValidationError({"id_tag": "This is not a card number."}, code="reserved")
    if IdToken.objects.alias(tag=Lower("id_tag")).filter(tag=id_tag.lower()).exists():
        raise ValidationError({"id_tag": TAG_TAKEN}, code="taken")
    token = IdToken(id_tag=id_tag, owner=user, label=label, status=IdTokenStatus.ACCEPTED)
    token.full_clean()
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError:  # registered at the same moment by someone else
        raise ValidationError({"id_tag": TAG_TAKEN}, code="taken") from None
    access_changed_on_commit(organization_ids=id_token_organizations(token))
    return token


def id_token_block_by_driver(*, user: User, token: IdToken) -> IdToken:
    """Block one of the driver's cards, say a lost one; any card they carry, whoever issued it."""
    _check_carried_by(user=user, token=token)
    return _status_set(token, IdTokenStatus.BLOCKED)


def id_token_unblock_by_driver(*, user: User, token: IdToken) -> IdToken:
    """Accept one of the driver's own cards again; a card an organization issued stays its call."""
    _check_carried_by(user=user, token=token)
    if token.organization_id is not None:
        raise ValidationError(
            f"{token.organization} issued this card, so only they can unblock it.", code="issued"
        )
    return _status_set(token, IdTokenStatus.ACCEPTED)


def _status_set(token: IdToken, status: IdTokenStatus) -> IdToken:
    if token.status != status:
        token.status = status
        token.save(update_fields=["status"])
        access_changed_on_commit(organization_ids=id_token_organizations(token))
    return token


def _check_carried_by(*, user: User, token: IdToken) -> None:
    if token.owner_id is None or token.owner_id != user.pk:
        raise PermissionDenied("This card is not yours.")
