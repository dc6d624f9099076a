"""Drivers, sites and chargers for the portal tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import User
from stations.domain import ConnectorStatus
from stations.models import Connector, Site, Station
from tests.factories import StationFactory, UserFactory

PASSWORD = "correct-horse-battery-staple"


def verified_driver(email: str) -> User:
    """A driver who signed up and confirmed their address."""
    user = UserFactory(username=email.split("@")[0], email=email)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def plugs(station: Station, *statuses: ConnectorStatus) -> list[Connector]:
    """Give the charger one connector (EVSE 1, 2, …) per status."""
    since = timezone.now() - timedelta(minutes=30)
    return [
        Connector.objects.create(station=station, evse_id=number, status=status, status_since=since)
        for number, status in enumerate(statuses, start=1)
    ]


def online_charger(site: Site, *statuses: ConnectorStatus, **fields: object) -> Station:
    station = StationFactory(site=site, is_online=True, **fields)
    plugs(station, *statuses)
    return station


@pytest.fixture(autouse=True)
def rate_limits_reset() -> None:
    """Forget allauth's rate limits (kept in the cache): one mail per address per few minutes, and so on."""
    cache.clear()


@pytest.fixture
def driver(db: None) -> User:
    return verified_driver("driver@example.com")


@pytest.fixture
def driver_client(client: Client, driver: User) -> Client:
    client.force_login(driver)
    return client
