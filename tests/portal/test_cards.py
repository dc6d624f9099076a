from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import IdToken, IdTokenStatus, Organization
from tests.factories import IdTokenFactory, UserFactory

pytestmark = pytest.mark.django_db


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_cards_page_lists_only_the_drivers_cards_with_their_status(driver_client, driver):
    IdTokenFactory(id_tag="MY-FOB", label="Blue fob", owner=driver)
    IdTokenFactory(id_tag="MY-OLD", owner=driver, status=IdTokenStatus.BLOCKED)
    IdTokenFactory(id_tag="NOT-MINE", owner=UserFactory())
    html = driver_client.get(reverse("portal:cards")).content.decode()
    assert "MY-FOB" in html and "Blue fob" in html and "MY-OLD" in html
    assert "NOT-MINE" not in html
    assert '<span class="chip chip--accepted">Accepted</span>' in html
    assert '<span class="chip chip--blocked">Blocked</span>' in html


def test_the_one_off_tags_of_card_payments_are_not_listed_nor_registrable(driver_client, driver):
    IdTokenFactory(id_tag="PAY-17", label="Card payment at DEMO-001", owner=driver)
    assert "PAY-17" not in driver_client.get(reverse("portal:cards")).content.decode()
    response = driver_client.post(reverse("portal:cards"), {"id_tag": "pay-99", "label": ""})
    assert "This is not a card number." in response.content.decode()
    assert not IdToken.objects.filter(id_tag__iexact="pay-99").exists()


def test_a_driver_adds_a_card_and_sees_it_listed(driver_client, driver):
    response = driver_client.post(
        reverse("portal:cards"), {"id_tag": "04A1B2C3", "label": "Key fob"}, follow=True
    )
    assert response.redirect_chain == [(reverse("portal:cards"), 302)]
    assert texts(response) == ["Card 04A1B2C3 added."]
    token = IdToken.objects.get(id_tag="04A1B2C3")
    assert (token.owner, token.label, token.status) == (driver, "Key fob", IdTokenStatus.ACCEPTED)
    assert "04A1B2C3" in response.content.decode()


def test_a_tag_already_registered_is_refused_on_the_form(driver_client):
    IdTokenFactory(id_tag="04A1B2C3", owner=UserFactory(email="first@example.com"))
    response = driver_client.post(reverse("portal:cards"), {"id_tag": "04a1b2c3", "label": ""})
    html = response.content.decode()
    assert response.status_code == 200
    assert "This card is already registered." in html
    assert "first@example.com" not in html
    assert IdToken.objects.filter(id_tag__iexact="04a1b2c3").count() == 1


def test_a_card_without_number_is_refused_on_the_form(driver_client):
    response = driver_client.post(reverse("portal:cards"), {"id_tag": "", "label": "Fob"})
    assert "This field is required." in response.content.decode()
    assert not IdToken.objects.exists()


def test_a_driver_blocks_and_unblocks_their_card(driver_client, driver):
    token = IdTokenFactory(id_tag="MY-FOB", owner=driver)
    blocked = driver_client.post(reverse("portal:card_block", args=[token.pk]), follow=True)
    token.refresh_from_db()
    assert token.status == IdTokenStatus.BLOCKED
    assert texts(blocked) == ["Card MY-FOB is blocked."]
    assert reverse("portal:card_unblock", args=[token.pk]) in blocked.content.decode()
    unblocked = driver_client.post(reverse("portal:card_unblock", args=[token.pk]), follow=True)
    token.refresh_from_db()
    assert token.status == IdTokenStatus.ACCEPTED
    assert texts(unblocked) == ["Card MY-FOB is unblocked."]


def test_a_card_an_organization_issued_can_be_blocked_but_not_unblocked_by_the_driver(driver_client, driver):
    token = IdTokenFactory(
        id_tag="FLEET-7", owner=driver, organization=Organization.objects.create(name="Acme Fleet")
    )
    page = driver_client.get(reverse("portal:cards")).content.decode()
    assert "Issued by Acme Fleet" in page and "Once blocked, only Acme Fleet can unblock it." in page
    driver_client.post(reverse("portal:card_block", args=[token.pk]))
    page = driver_client.get(reverse("portal:cards")).content.decode()
    assert reverse("portal:card_unblock", args=[token.pk]) not in page
    assert "Ask Acme Fleet to unblock it." in page
    refused = driver_client.post(reverse("portal:card_unblock", args=[token.pk]), follow=True)
    token.refresh_from_db()
    assert token.status == IdTokenStatus.BLOCKED
    assert texts(refused) == ["Acme Fleet issued this card, so only they can unblock it."]


@pytest.mark.parametrize("name", ["portal:card_block", "portal:card_unblock"])
def test_another_drivers_card_is_not_found(driver_client, name):
    theirs = IdTokenFactory(owner=UserFactory(), status=IdTokenStatus.BLOCKED)
    unowned = IdTokenFactory(owner=None)
    for token in (theirs, unowned):
        assert driver_client.post(reverse(name, args=[token.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == IdTokenStatus.BLOCKED


@pytest.mark.parametrize("name", ["portal:card_block", "portal:card_unblock"])
def test_blocking_needs_a_post_with_a_csrf_token(client, driver, name):
    token = IdTokenFactory(owner=driver)
    client.force_login(driver)
    assert client.get(reverse(name, args=[token.pk])).status_code == 405
    strict = type(client)(enforce_csrf_checks=True)
    strict.force_login(driver)
    assert strict.post(reverse(name, args=[token.pk])).status_code == 403
    token.refresh_from_db()
    assert token.status == IdTokenStatus.ACCEPTED
