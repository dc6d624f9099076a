"""Uploaded logs are downloadable from the admin by staff of the charger's organization only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.domain import Role
from stations import admin_commands
from stations.diagnostics.models import DiagnosticsRequest
from tests.factories import MembershipFactory, SiteFactory, StationFactory

LOG = b"boot ok\nrelay stuck\n"


@pytest.fixture
def uploaded(client, pending) -> DiagnosticsRequest:
    membership = MembershipFactory(role=Role.VIEWER)
    station = StationFactory(site=SiteFactory(organization=membership.organization))
    request = pending("owner-token", station)
    response = client.put("/diagnostics/upload/owner-token/cp.log", LOG, content_type="text/plain")
    assert response.status_code == 201
    request.refresh_from_db()
    request.owner_staff = membership.user
    return request


def download_url(request: DiagnosticsRequest) -> str:
    return reverse("admin:diagnostics_diagnosticsrequest_download", args=[request.pk])


@pytest.mark.django_db
def test_staff_of_the_owner_download_the_file_and_see_it_listed(client, uploaded):
    client.force_login(uploaded.owner_staff)
    response = client.get(download_url(uploaded))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == LOG
    assert 'attachment; filename="cp.log"' in response["Content-Disposition"]
    listing = client.get(reverse("admin:diagnostics_diagnosticsrequest_changelist"))
    assert listing.status_code == 200 and download_url(uploaded) in listing.content.decode()
    assert (
        client.get(reverse("admin:diagnostics_diagnosticsrequest_change", args=[uploaded.pk])).status_code
        == 200
    )


@pytest.mark.django_db
def test_staff_of_another_organization_get_404(client, uploaded):
    client.force_login(MembershipFactory(role=Role.MANAGER).user)
    assert client.get(download_url(uploaded)).status_code == 404
    listing = client.get(reverse("admin:diagnostics_diagnosticsrequest_changelist"))
    assert download_url(uploaded) not in listing.content.decode()


@pytest.mark.django_db
def test_the_file_has_no_public_url(client, uploaded):
    client.logout()
    assert client.get(download_url(uploaded)).status_code == 302  # to the admin login
    assert client.get(f"/media/{uploaded.file.name}").status_code == 404
    assert client.get(f"/diagnostics/{uploaded.file.name}").status_code == 404


def test_the_chargers_admin_offers_the_request_command():
    command = admin_commands.COMMANDS["diagnostics"]
    assert command.label == "Request diagnostics / log" and command.run is not None
