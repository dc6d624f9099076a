"""The admin's CSV import of ID tokens: who may use it, into which organizations, and what it shows."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.domain import Role
from accounts.models import IdToken, Membership, Organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:accounts_idtoken_import")
LIST_URL = reverse("admin:accounts_idtoken_changelist")


@pytest.fixture
def org_a() -> Organization:
    return Organization.objects.create(name="Fleet A", kind="fleet")


@pytest.fixture
def org_b() -> Organization:
    return Organization.objects.create(name="Fleet B", kind="fleet")


def staff(organization: Organization, role: Role):
    user = UserFactory(is_staff=True)
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("cards.csv", text.encode(), content_type="text/csv")


def post(client, organization: Organization, text: str, **extra: str):
    return client.post(IMPORT_URL, {"file": csv_file(text), "organization": organization.pk, **extra})


def test_the_card_list_links_to_the_import(client, admin_user):
    client.force_login(admin_user)
    assert f'href="{IMPORT_URL}"' in client.get(LIST_URL).content.decode()


@pytest.mark.parametrize(("role", "linked"), [(Role.MANAGER, True), (Role.VIEWER, False)])
def test_the_link_shows_to_those_who_may_add_cards(client, org_a, role, linked):
    client.force_login(staff(org_a, role))
    assert (f'href="{IMPORT_URL}"' in client.get(LIST_URL).content.decode()) is linked


def test_a_superuser_imports_into_any_organization(client, admin_user, org_a, org_b):
    client.force_login(admin_user)
    page = client.get(IMPORT_URL)
    assert page.status_code == 200
    assert list(page.context["form"].fields["organization"].queryset) == [org_a, org_b]
    response = post(client, org_b, "id_tag,label\n04A1,one\n04A2,two\n")
    assert response.status_code == 302 and response.url == LIST_URL
    assert list(IdToken.objects.values_list("id_tag", "organization__name")) == [
        ("04A1", "Fleet B"),
        ("04A2", "Fleet B"),
    ]
    message = client.get(LIST_URL).content.decode()
    assert "Imported into Fleet B: 2 created, 0 updated, 0 unchanged." in message


def test_errors_are_shown_as_a_table_and_nothing_is_saved(client, admin_user, org_a):
    client.force_login(admin_user)
    response = post(client, org_a, "id_tag,status\nGOOD,\nBAD,Lost\n,Blocked\n")
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 errors in the file: nothing was imported." in page
    assert (
        '<td class="csms-num">3</td><td><code>status</code></td><td>Must be Accepted or Blocked.</td>' in page
    )
    assert '<td class="csms-num">4</td><td><code>id_tag</code></td><td>Required.</td>' in page
    assert not IdToken.objects.exists()


def test_an_unreadable_file_is_reported_for_the_whole_file(client, admin_user, org_a):
    client.force_login(admin_user)
    page = post(client, org_a, "\r\n\r\n").content.decode()
    assert '<td class="csms-num">file</td><td></td><td>The file is empty.</td>' in page


def test_check_only_counts_and_saves_nothing(client, admin_user, org_a):
    client.force_login(admin_user)
    response = post(client, org_a, "id_tag\nA\nB\n", check_only="on")
    assert response.status_code == 200
    assert "The file is fine; importing it would give: 2 created, 0 updated, 0 unchanged." in (
        response.content.decode()
    )
    assert not IdToken.objects.exists()


def test_a_manager_imports_only_into_their_organization(client, org_a, org_b):
    client.force_login(staff(org_a, Role.MANAGER))
    page = client.get(IMPORT_URL)
    assert list(page.context["form"].fields["organization"].queryset) == [org_a]
    assert "Fleet B" not in page.content.decode()
    assert post(client, org_a, "id_tag\nMINE\n").status_code == 302
    assert IdToken.objects.get().organization == org_a


def test_a_forged_post_into_another_organization_is_refused(client, org_a, org_b):
    client.force_login(staff(org_a, Role.OWNER))
    response = post(client, org_b, "id_tag\nSNEAKY\n")
    assert response.status_code == 200
    assert response.context["form"].errors["organization"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not IdToken.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TECHNICIAN])
def test_staff_who_do_not_manage_cards_are_forbidden(client, org_a, role):
    client.force_login(staff(org_a, role))
    assert client.get(IMPORT_URL).status_code == 403
    assert post(client, org_a, "id_tag\nNOPE\n").status_code == 403
    assert not IdToken.objects.exists()


def test_staff_without_an_organization_are_forbidden(client, org_a):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(IMPORT_URL).status_code == 403


def test_the_example_file_is_offered(client, admin_user):
    client.force_login(admin_user)
    example_url = reverse("admin:accounts_idtoken_import_example")
    assert f'href="{example_url}"' in client.get(IMPORT_URL).content.decode()
    response = client.get(example_url)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode().startswith(
        "id_tag,label,status,expires_at,owner_email,parent_id_tag,groups\r\n"
    )
