"""A charger at a site of an organization with a manager, and a way to talk to it as a charger would."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from accounts.domain import Role
from stations.models import Station
from stations.ocpp.base import ProtocolAdapter
from stations.ocpp.v16 import Ocpp16
from stations.ocpp.v201 import Ocpp201
from stations.services import registry
from tests.factories import MembershipFactory, OrganizationFactory, StationFactory

FRAMES = Path(__file__).parent / "frames"
MANAGER_EMAIL = "manager@riverside.example"


def frame(name: str, **values: str) -> dict[str, Any]:
    text = (FRAMES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", value)
    return json.loads(text)


def send(adapter: ProtocolAdapter, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    reply = json.loads(adapter.process(json.dumps([2, f"m-{time.monotonic_ns()}", action, payload])).reply)
    assert reply[0] == 3, reply
    return reply[2]


@pytest.fixture(autouse=True)
def outbox(settings) -> list:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Rolled-back tests reuse station ids; the gateway's connector cache must not outlive them.
    registry.connector_pk.cache_clear()
    return mail.outbox


@pytest.fixture
def station(db) -> Station:  # type: ignore[no-untyped-def]
    organization = OrganizationFactory(name="Riverside Homes")
    station = StationFactory(site__organization=organization)
    MembershipFactory(organization=organization, role=Role.MANAGER, user__email=MANAGER_EMAIL)
    MembershipFactory(organization=organization, role=Role.VIEWER, user__email="viewer@riverside.example")
    return station


@pytest.fixture
def charger16(station: Station) -> Ocpp16:
    return Ocpp16(identity=station.identity, station_id=station.pk, accepted=True)


@pytest.fixture
def charger201(station: Station) -> Ocpp201:
    return Ocpp201(identity=station.identity, station_id=station.pk, accepted=True)
