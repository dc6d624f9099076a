"""The energy admin, scoped: a property manager sees and edits only their own sites' grids, circuits, wiring
and allocations, and their own fleet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.domain import Role
from accounts.models import Organization
from energy.models import (
    Allocation,
    AllocationChange,
    AllocationStatus,
    ChargerWiring,
    ChargingNeed,
    Circuit,
    ConnectorLimit,
    FleetPlanRecord,
    FleetVehicle,
    GridPrice,
    SiteGrid,
    SiteLoadSample,
)
from stations.models import Connector, Site, Station
from tests.factories import MembershipFactory, OrganizationFactory, SiteFactory, StationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)


@dataclass
class Depot:
    organization: Organization
    site: Site
    station: Station
    circuit: Circuit


def depot(name: str) -> Depot:
    organization = OrganizationFactory(name=f"{name} Fleet")
    site = SiteFactory(name=f"{name} Depot", organization=organization)
    station = StationFactory(identity=f"{name}-CP1", site=site)
    SiteGrid.objects.create(site=site, phase_limit_amps=Decimal(63))
    circuit = Circuit.objects.create(site=site, name=f"{name} carport", phase_limit_amps=Decimal(32))
    ChargerWiring.objects.create(station=station, circuit=circuit, max_amps=Decimal(16))
    connector = Connector.objects.create(station=station, evse_id=1)
    ConnectorLimit.objects.create(connector=connector, max_amps=Decimal(13))
    Allocation.objects.create(station=station, evse_id=1, amps=Decimal(16), reason=f"{name} share")
    AllocationChange.objects.create(
        site=site, station=station, evse_id=1, at=T0, amps=Decimal(16), status=AllocationStatus.ACCEPTED
    )
    SiteLoadSample.objects.create(site=site, at=T0, limit_amps=Decimal(63))
    vehicle = FleetVehicle.objects.create(
        organization=organization, name=f"{name} van", battery_kwh=Decimal(75), max_kw=Decimal(11)
    )
    ChargingNeed.objects.create(vehicle=vehicle, departure_at=T0, energy_kwh=Decimal(30))
    FleetPlanRecord.objects.create(
        site=site, computed_at=T0, cost=1, cost_immediate=2, saving=1, currency="EUR", message=f"{name} plan"
    )
    GridPrice.objects.create(
        site=site, starts_at=T0, ends_at=T0.replace(hour=11), price_per_kwh=Decimal("0.1"), currency="EUR"
    )
    return Depot(organization, site, station, circuit)


@pytest.fixture
def ours():
    return depot("Alpha")


@pytest.fixture
def theirs():
    return depot("Beta")


@pytest.fixture
def manager(ours, theirs):
    membership = MembershipFactory(organization=ours.organization, role=Role.MANAGER)
    client = Client()
    client.force_login(membership.user)
    return client


MODELS = [
    (SiteGrid, "Depot"),
    (Circuit, "carport"),
    (ChargerWiring, "-CP1"),
    (ConnectorLimit, "-CP1"),
    (Allocation, "share"),
    (AllocationChange, "-CP1"),
    (SiteLoadSample, "Depot"),
    (FleetVehicle, "van"),
    (ChargingNeed, "van"),
    (FleetPlanRecord, "Depot"),
    (GridPrice, "Depot"),
]


def admin_url(model, action: str = "changelist", *args) -> str:
    return reverse(f"admin:energy_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize(("model", "marker"), MODELS)
def test_each_list_shows_only_the_managers_own_rows(manager, model, marker):
    page = manager.get(admin_url(model))
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Alpha{marker}" in text or f"Alpha {marker}" in text
    assert "Beta" not in text


@pytest.mark.parametrize(
    ("model", "owner"),
    [
        (SiteGrid, "site"),
        (Circuit, "site"),
        (ChargerWiring, "station"),
        (Allocation, "station"),
        (FleetVehicle, "organization"),
    ],
)
def test_another_organizations_rows_are_not_found_even_by_url(manager, theirs, model, owner):
    row = model.objects.get(**{owner: getattr(theirs, owner)})
    assert manager.get(admin_url(model, "change", row.pk)).status_code == 302  # "does not exist" redirect


def test_a_manager_edits_the_wiring_of_their_charger_but_only_onto_their_circuits(manager, ours, theirs):
    wiring = ChargerWiring.objects.get(station=ours.station)
    form = {
        "station": ours.station.pk,
        "phases": 1,
        "phase_rotation": "TRS",
        "max_amps": "20",
        "priority": 3,
        "circuit": theirs.circuit.pk,
    }
    refused = manager.post(admin_url(ChargerWiring, "change", wiring.pk), form)
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    saved = manager.post(admin_url(ChargerWiring, "change", wiring.pk), {**form, "circuit": ours.circuit.pk})
    assert saved.status_code == 302
    wiring.refresh_from_db()
    assert (wiring.phases, wiring.phase_rotation, wiring.max_amps, wiring.grid_phases) == (1, "TRS", 20, (3,))


def test_allocations_and_their_history_are_read_only(manager, ours):
    row = Allocation.objects.get(station=ours.station)
    assert manager.post(admin_url(Allocation, "change", row.pk), {"amps": "32"}).status_code == 403
    assert manager.get(admin_url(Allocation, "add")).status_code == 403


def test_a_grid_connection_links_to_its_site_s_charts_and_they_open(manager, ours):
    page = manager.get(admin_url(SiteGrid)).content.decode()
    charts = reverse("admin:energy_site_charts", args=[ours.site.pk])
    assert f'href="{charts}"' in page
    assert manager.get(charts).status_code == 200
