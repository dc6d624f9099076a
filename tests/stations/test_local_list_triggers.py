"""Local lists follow changes as they are made: a driver's lost card, a manager's group or site edit."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from accounts.domain import Role
from accounts.models import AccessGroupMember, IdToken, Membership
from accounts.services import id_token_block_by_driver
from tests.communicators import connected_charger
from tests.factories import IdTokenFactory, UserFactory
from tests.stations.test_local_list import ACCEPTED, exchange, home, residence, sync_of, update  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_driver_blocking_a_lost_card_in_the_portal_reaches_the_chargers_list(home):  # noqa: F811
    driver = await database_sync_to_async(UserFactory)(email="resident@example.com")
    await AccessGroupMember.objects.acreate(group=home.group, email="Resident@example.com")
    card = await database_sync_to_async(IdTokenFactory)(id_tag="D-FOB", owner=driver)
    charger = await connected_charger(home.station.identity)
    _, [first] = await exchange(charger, sync_of(home.station), [ACCEPTED])
    assert update(first)[2]["D-FOB"] == "Accepted"

    _, [call] = await exchange(charger, lambda: id_token_block_by_driver(user=driver, token=card), [ACCEPTED])
    assert update(call) == ("Differential", 2, {"D-FOB": "Blocked"})
    await charger.disconnect()


async def test_a_manager_adding_a_card_to_a_group_in_the_admin_reaches_the_chargers_list(home):  # noqa: F811
    manager = await database_sync_to_async(UserFactory)(is_staff=True)
    await Membership.objects.acreate(user=manager, organization=home.organization, role=Role.MANAGER)
    newcomer = await database_sync_to_async(IdTokenFactory)(id_tag="N-NEW", organization=home.organization)
    members = IdToken.objects.filter(access_groups=home.group)
    await members.aupdate(organization=home.organization)  # a group holds its organization's cards
    cards = [pk async for pk in members.values_list("pk", flat=True)]
    charger = await connected_charger(home.station.identity, subprotocol="ocpp2.0.1")
    await exchange(charger, sync_of(home.station), [ACCEPTED])

    def edit_the_group() -> int:
        client = Client()
        client.force_login(manager)
        response = client.post(
            reverse("admin:accounts_accessgroup_change", args=[home.group.pk]),
            {
                "organization": home.organization.pk,
                "name": "Residents",
                "id_tokens": [*cards, newcomer.pk],
                "members-TOTAL_FORMS": 0,
                "members-INITIAL_FORMS": 0,
            },
        )
        return response.status_code

    status, [call] = await exchange(charger, edit_the_group, [ACCEPTED])
    assert status == 302
    assert update(call) == ("Differential", 2, {"N-NEW": "Accepted"})
    await charger.disconnect()


async def test_an_unrelated_organizations_change_sends_nothing(home):  # noqa: F811
    other = await database_sync_to_async(residence)()
    driver = await database_sync_to_async(UserFactory)(email="elsewhere@example.com")
    await AccessGroupMember.objects.acreate(group=other.group, email=driver.email)
    card = await database_sync_to_async(IdTokenFactory)(id_tag="X-ELSEWHERE", owner=driver)
    charger = await connected_charger(home.station.identity)
    await exchange(charger, sync_of(home.station), [ACCEPTED])

    _, calls = await exchange(charger, lambda: id_token_block_by_driver(user=driver, token=card), [])
    assert calls == []
    await charger.disconnect()
