"""A property manager sees and changes only their organization's things in the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts.domain import Role
from accounts.models import AccessGroup, AccessGroupMember, IdToken, Organization
from stations.domain import AccessPolicy, RegistrationStatus
from stations.models import (
    AccessRule,
    ChargingSession,
    DeviceVariable,
    Frame,
    OutgoingCall,
    Site,
    Station,
    StatusChange,
)
from tests.factories import (
    AccessGroupFactory,
    AccessRuleFactory,
    IdTokenFactory,
    MembershipFactory,
    OrganizationFactory,
    SiteFactory,
    StationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)


@dataclass
class Estate:
    """One organization's things, each named after the organization so pages can be searched for them."""

    organization: Organization
    site: Site
    station: Station
    card: IdToken
    group: AccessGroup
    rule: AccessRule
    session: ChargingSession
    status_change: StatusChange
    call: OutgoingCall
    frame: Frame
    variable: DeviceVariable


def estate(name: str) -> Estate:
    organization = OrganizationFactory(name=f"{name} Properties")
    site = SiteFactory(name=f"{name} Tower", organization=organization, access_policy=AccessPolicy.RESTRICTED)
    station = StationFactory(
        identity=f"{name}-CP1", site=site, registration_status=RegistrationStatus.PENDING
    )
    card = IdTokenFactory(id_tag=f"{name}-CARD", organization=organization)
    group = AccessGroupFactory(name=f"{name} residents", organization=organization)
    group.id_tokens.add(card)
    AccessGroupMember.objects.create(group=group, email=f"{name.lower()}@example.com")
    return Estate(
        organization=organization,
        site=site,
        station=station,
        card=card,
        group=group,
        rule=AccessRuleFactory(site=site, group=group),
        session=ChargingSession.objects.create(
            station=station, id_tag=f"{name}-CARD", external_id=f"{name}-TX", started_at=T0
        ),
        status_change=StatusChange.objects.create(
            station=station, status="faulted", error_code=f"{name}Error", occurred_at=T0
        ),
        call=OutgoingCall.objects.create(station=station, unique_id=f"{name}-call", action="Reset"),
        frame=Frame.objects.create(
            identity=station.identity,
            direction="in",
            text=f'[2,"{name}-frame","Heartbeat",{{}}]',
            created_at=T0,
        ),
        variable=DeviceVariable.objects.create(
            station=station, component="Connector", variable=f"{name}Variable", reported_at=T0
        ),
    )


@pytest.fixture
def ours():
    return estate("Alpha")


@pytest.fixture
def theirs():
    return estate("Beta")


def staff_client(organization: Organization, role: Role) -> Client:
    membership = MembershipFactory(organization=organization, role=role)
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.fixture
def manager(ours, theirs):
    return staff_client(ours.organization, Role.MANAGER)


CHANGELISTS = [
    "accounts_organization",
    "accounts_idtoken",
    "accounts_accessgroup",
    "stations_site",
    "stations_station",
    "stations_chargingsession",
    "stations_statuschange",
    "stations_outgoingcall",
    "stations_frame",
    "stations_devicevariable",
]


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_a_list_shows_only_the_managers_organization(manager, changelist):
    page = manager.get(reverse(f"admin:{changelist}_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Alpha" in text
    assert "Beta" not in text  # not in rows, list filters or anywhere else


def objects_of(estate: Estate) -> list:
    return [
        estate.organization,
        estate.site,
        estate.station,
        estate.card,
        estate.group,
        estate.session,
        estate.status_change,
        estate.call,
        estate.frame,
        estate.variable,
    ]


def admin_url(obj, view: str) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{view}", args=[obj.pk])


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_organizations_object_pages_are_not_found_even_by_url(manager, ours, theirs, view):
    for obj in objects_of(theirs):
        page = manager.get(admin_url(obj, view), follow=True)
        assert "Beta" not in page.content.decode(), (obj, view)
        # "does not exist" (a redirect to the index), or 403 where the manager may delete no such thing
        refused = page.status_code == 403 or (page.redirect_chain and page.redirect_chain[0][1] == 302)
        assert refused, (obj, view, page.status_code)
    own = manager.get(admin_url(ours.station, "change"))
    assert own.status_code == 200 and "Alpha-CP1" in own.content.decode()


def test_a_forged_post_cannot_change_or_delete_another_organizations_object(manager, theirs):
    manager.post(admin_url(theirs.site, "change"), {"name": "Taken", "time_zone": "UTC"})
    manager.post(admin_url(theirs.card, "delete"), {"post": "yes"})
    assert Site.objects.get(pk=theirs.site.pk).name == "Beta Tower"
    assert IdToken.objects.filter(pk=theirs.card.pk).exists()


def test_an_action_on_forged_ids_touches_only_the_managers_objects(manager, ours, theirs):
    manager.post(
        reverse("admin:stations_station_changelist"),
        {"action": "accept_registration", "_selected_action": [ours.station.pk, theirs.station.pk]},
    )
    assert Station.objects.get(pk=ours.station.pk).registration_status == RegistrationStatus.ACCEPTED
    assert Station.objects.get(pk=theirs.station.pk).registration_status == RegistrationStatus.PENDING


def test_the_session_export_holds_only_the_managers_sessions(manager, ours, theirs):
    response = manager.post(
        reverse("admin:stations_chargingsession_changelist"),
        {"action": "export_csv", "_selected_action": [ours.session.pk, theirs.session.pk]},
    )
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("transaction_id,charger,connector,id_tag")
    assert len(lines) == 2 and lines[1].startswith("Alpha-TX,Alpha-CP1")


def test_autocomplete_offers_only_the_managers_cards(manager, ours, theirs):
    response = manager.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "accessgroup", "field_name": "id_tokens", "term": "CARD"},
    )
    assert [result["text"] for result in response.json()["results"]] == ["Alpha-CARD"]


def test_choices_offer_only_the_managers_organizations_and_sites(manager, ours, theirs):
    site_form = manager.get(reverse("admin:stations_site_add")).content.decode()
    station_form = manager.get(reverse("admin:stations_station_add")).content.decode()
    assert "Alpha Properties" in site_form and "Beta Properties" not in site_form
    assert "Alpha Tower" in station_form and "Beta Tower" not in station_form


def test_a_manager_cannot_put_a_charger_on_another_organizations_site(manager, theirs):
    response = manager.post(
        reverse("admin:stations_station_add"),
        {
            "identity": "SNEAKY-1",
            "site": theirs.site.pk,
            "registration_status": "accepted",
            "new_password": "a-long-enough-password",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in response.content.decode()
    assert not Station.objects.filter(identity="SNEAKY-1").exists()


def test_a_manager_must_give_new_things_an_organization(manager, ours):
    response = manager.post(
        reverse("admin:accounts_idtoken_add"), {"id_tag": "ORPHAN", "status": "accepted", "label": ""}
    )
    assert "This field is required" in response.content.decode()
    manager.post(
        reverse("admin:accounts_idtoken_add"),
        {"id_tag": "NEW-CARD", "status": "accepted", "organization": ours.organization.pk},
    )
    assert IdToken.objects.get(id_tag="NEW-CARD").organization == ours.organization


def test_a_group_may_hold_only_its_organizations_cards(manager, ours, theirs):
    response = manager.post(
        admin_url(ours.group, "change"),
        {
            "organization": ours.organization.pk,
            "name": "Alpha residents",
            "id_tokens": [ours.card.pk, theirs.card.pk],
            "members-TOTAL_FORMS": 0,
            "members-INITIAL_FORMS": 0,
        },
    )
    assert "Select a valid choice" in response.content.decode()
    assert list(ours.group.id_tokens.all()) == [ours.card]


def test_a_viewer_sees_but_cannot_change_anything(ours, theirs):
    viewer = staff_client(ours.organization, Role.VIEWER)
    assert viewer.get(admin_url(ours.site, "change")).status_code == 200
    assert viewer.get(reverse("admin:stations_site_add")).status_code == 403
    viewer.post(admin_url(ours.site, "change"), {"name": "Renamed", "time_zone": "UTC"})
    assert Site.objects.get(pk=ours.site.pk).name == "Alpha Tower"
    viewer.post(
        reverse("admin:stations_station_changelist"),
        {"action": "accept_registration", "_selected_action": [ours.station.pk]},
    )
    assert Station.objects.get(pk=ours.station.pk).registration_status == RegistrationStatus.PENDING


def test_a_technician_operates_chargers_but_does_not_reconfigure_them(ours, theirs):
    technician = staff_client(ours.organization, Role.TECHNICIAN)
    changelist = technician.get(reverse("admin:stations_station_changelist")).content.decode()
    assert "command_reset" in changelist and "accept_registration" not in changelist
    page = technician.post(
        reverse("admin:stations_station_changelist"),
        {"action": "command_reset", "_selected_action": [ours.station.pk, theirs.station.pk]},
    )
    assert "Alpha-CP1" in page.content.decode() and "Beta-CP1" not in page.content.decode()
    assert technician.get(reverse("admin:accounts_idtoken_add")).status_code == 403


def test_an_owner_renames_the_organization_but_only_superusers_change_its_staff(ours):
    owner = staff_client(ours.organization, Role.OWNER)
    page = owner.get(admin_url(ours.organization, "change")).content.decode()
    assert 'name="memberships-0-role"' not in page  # the staff are listed, not editable
    assert "memberships-heading" in page
    owner.post(
        admin_url(ours.organization, "change"),
        {
            "name": "Alpha Homes",
            "kind": "property",
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 1,
        },
    )
    assert Organization.objects.get(pk=ours.organization.pk).name == "Alpha Homes"
    assert owner.get(reverse("admin:accounts_organization_add")).status_code == 403
    assert owner.get(reverse("admin:accounts_user_changelist")).status_code == 403


def test_staff_without_any_organization_see_nothing(ours):
    loner = UserFactory(is_staff=True)
    client = Client()
    client.force_login(loner)
    index = client.get(reverse("admin:index")).content.decode()
    assert "Alpha" not in index and "Sites" not in index
    assert client.get(reverse("admin:stations_site_changelist")).status_code == 403


def test_a_superuser_sees_every_organization(ours, theirs):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    text = client.get(reverse("admin:stations_station_changelist")).content.decode()
    assert "Alpha-CP1" in text and "Beta-CP1" in text


def test_the_access_rules_of_a_site_are_edited_inline_with_days_as_checkboxes(manager, ours):
    page = manager.get(admin_url(ours.site, "change")).content.decode()
    assert 'name="access_rules-0-weekdays"' in page
    response = manager.post(
        admin_url(ours.site, "change"),
        {
            "name": "Alpha Tower",
            "organization": ours.organization.pk,
            "time_zone": "Europe/Berlin",
            "access_policy": "restricted",
            "access_rules-TOTAL_FORMS": 1,
            "access_rules-INITIAL_FORMS": 1,
            "access_rules-0-id": ours.rule.pk,
            "access_rules-0-site": ours.site.pk,
            "access_rules-0-group": ours.group.pk,
            "access_rules-0-weekdays": ["0", "2", "4"],
            "access_rules-0-window_start": "07:00",
            "access_rules-0-window_end": "19:00",
            "access_rules-0-max_duration_min": "120",
            "stations-TOTAL_FORMS": 1,
            "stations-INITIAL_FORMS": 1,
            "stations-0-id": ours.station.pk,
            "stations-0-site": ours.site.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = AccessRule.objects.get(pk=ours.rule.pk)
    assert (rule.weekdays, rule.max_duration_min, str(rule.window_start)) == ("024", 120, "07:00:00")
