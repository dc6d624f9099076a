"""The alerts admin: each organization's staff see only their sites' alerts, with the evidence
pretty-printed; operators acknowledge and close them, viewers cannot; nothing is edited by hand."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.domain import Role
from stations.alerts.models import Alert
from stations.alerts.services import alert_raise
from tests.factories import MembershipFactory, OrganizationFactory, StationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:alerts_alert_changelist")


@pytest.fixture
def alerts():  # type: ignore[no-untyped-def]
    ours, theirs = OrganizationFactory(name="Ours"), OrganizationFactory(name="Theirs")
    mine = alert_raise(
        kind="fault",
        key="fault:mine",
        summary="OUR-FAULT connector 1",
        evidence={"error_code": "GroundFailure", "info": "<b>x</b>"},
        station=StationFactory(site__organization=ours),
    )
    other = alert_raise(
        kind="offline",
        key="offline:theirs",
        summary="THEIR-OFFLINE charger",
        evidence={},
        station=StationFactory(site__organization=theirs),
    )
    return ours, mine, other


def staff(organization, role):  # type: ignore[no-untyped-def]
    return MembershipFactory(organization=organization, role=role).user


def test_staff_see_only_their_organizations_alerts(client, alerts):
    ours, mine, other = alerts
    client.force_login(staff(ours, Role.VIEWER))
    page = client.get(CHANGELIST).content.decode()
    assert "OUR-FAULT" in page and "THEIR-OFFLINE" not in page
    assert client.get(reverse("admin:alerts_alert_change", args=[other.pk])).status_code == 302  # not found
    detail = client.get(reverse("admin:alerts_alert_change", args=[mine.pk])).content.decode()
    assert "&quot;error_code&quot;: &quot;GroundFailure&quot;" in detail and "&lt;b&gt;x&lt;/b&gt;" in detail


def test_the_open_filter_and_the_kind_filter(admin_client, alerts):
    _, mine, _ = alerts
    mine.closed_at = mine.opened_at
    mine.save()
    assert "OUR-FAULT" not in admin_client.get(CHANGELIST + "?state=open").content.decode()
    assert "OUR-FAULT" in admin_client.get(CHANGELIST + "?state=closed").content.decode()
    assert "THEIR-OFFLINE" not in admin_client.get(CHANGELIST + "?kind=fault").content.decode()


def test_a_technician_acknowledges_and_closes_only_their_own_alerts(client, alerts):
    ours, mine, other = alerts
    user = staff(ours, Role.TECHNICIAN)
    client.force_login(user)
    for action in ("acknowledge", "close"):
        client.post(CHANGELIST, {"action": action, "_selected_action": [mine.pk, other.pk]})
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.acknowledged_by == user and mine.closed_at is not None and str(user) in mine.close_reason
    assert other.acknowledged_at is None and other.closed_at is None


def test_a_viewer_has_no_actions_and_nobody_edits_alerts(client, alerts):
    ours, mine, _ = alerts
    client.force_login(staff(ours, Role.VIEWER))
    client.post(CHANGELIST, {"action": "close", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.closed_at is None
    assert client.get(reverse("admin:alerts_alert_add")).status_code == 403
    response = client.post(reverse("admin:alerts_alert_change", args=[mine.pk]), {"summary": "edited"})
    assert response.status_code == 403
    assert Alert.objects.get(pk=mine.pk).summary == "OUR-FAULT connector 1"


def test_the_list_shows_each_alerts_state_and_severity_as_a_chip(admin_client, alerts):
    _, mine, _ = alerts

    def row() -> str:
        page = admin_client.get(CHANGELIST).content.decode()
        return next(tr for tr in page.split("<tr")[1:] if "OUR-FAULT" in tr)

    assert '<span class="csms-chip csms-faulted" title="">open</span>' in row()
    admin_client.post(CHANGELIST, {"action": "acknowledge", "_selected_action": [mine.pk]})
    assert "csms-partial" in row() and ">acknowledged</span>" in row()
    admin_client.post(CHANGELIST, {"action": "close", "_selected_action": [mine.pk]})
    assert '<span class="csms-chip csms-available" title="">closed</span>' in row()
    assert f">{mine.get_severity_display()}</span>" in row()
