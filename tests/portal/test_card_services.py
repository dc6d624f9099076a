from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import IdTokenStatus, Organization
from accounts.services import (
    id_token_authorize,
    id_token_block_by_driver,
    id_token_register_for_driver,
    id_token_unblock_by_driver,
)
from tests.factories import IdTokenFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_registered_card_belongs_to_the_driver_and_may_charge():
    driver = UserFactory()
    token = id_token_register_for_driver(user=driver, id_tag="  04A1B2C3 ", label=" Key fob ")
    assert (token.owner, token.id_tag, token.label, token.organization) == (
        driver,
        "04A1B2C3",
        "Key fob",
        None,
    )
    assert id_token_authorize(id_tag="04a1b2c3").status == "accepted"


def test_a_tag_anyone_registered_is_refused_without_saying_whose():
    IdTokenFactory(id_tag="04A1B2C3", owner=UserFactory(email="first@example.com"))
    with pytest.raises(ValidationError) as caught:
        id_token_register_for_driver(user=UserFactory(), id_tag="04a1b2c3")
    assert caught.value.message_dict["id_tag"] == [
        "This card is already registered. If it is yours, ask the operator of your charging sites."
    ]
    assert "first" not in str(caught.value)


def test_an_empty_or_too_long_tag_is_refused():
    driver = UserFactory()
    with pytest.raises(ValidationError, match="cannot be blank"):
        id_token_register_for_driver(user=driver, id_tag="   ")
    with pytest.raises(ValidationError, match="at most 36"):
        id_token_register_for_driver(user=driver, id_tag="X" * 37)


def test_a_driver_may_block_any_card_they_carry_even_one_an_organization_issued():
    driver = UserFactory()
    fleet = Organization.objects.create(name="Fleet")
    token = IdTokenFactory(owner=driver, organization=fleet)
    id_token_block_by_driver(user=driver, token=token)
    token.refresh_from_db()
    assert token.status == IdTokenStatus.BLOCKED
    assert id_token_authorize(id_tag=token.id_tag).status == "blocked"


def test_a_driver_may_unblock_their_own_card_but_not_one_an_organization_issued():
    driver = UserFactory()
    own = IdTokenFactory(owner=driver, status=IdTokenStatus.BLOCKED)
    issued = IdTokenFactory(
        owner=driver, status=IdTokenStatus.BLOCKED, organization=Organization.objects.create(name="Fleet")
    )
    id_token_unblock_by_driver(user=driver, token=own)
    with pytest.raises(ValidationError, match="Fleet issued this card"):
        id_token_unblock_by_driver(user=driver, token=issued)
    own.refresh_from_db()
    issued.refresh_from_db()
    assert (own.status, issued.status) == (IdTokenStatus.ACCEPTED, IdTokenStatus.BLOCKED)


def test_blocking_twice_changes_nothing_the_second_time():
    driver = UserFactory()
    token = IdTokenFactory(owner=driver)
    id_token_block_by_driver(user=driver, token=token)
    id_token_block_by_driver(user=driver, token=token)
    token.refresh_from_db()
    assert token.status == IdTokenStatus.BLOCKED


@pytest.mark.parametrize("change", [id_token_block_by_driver, id_token_unblock_by_driver])
def test_nobody_changes_a_card_they_do_not_carry(change):
    token = IdTokenFactory(owner=UserFactory())
    unowned = IdTokenFactory(owner=None)
    for card in (token, unowned):
        with pytest.raises(PermissionDenied):
            change(user=UserFactory(), token=card)
