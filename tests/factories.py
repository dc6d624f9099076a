from __future__ import annotations

import factory

from accounts.models import IdToken, User
from stations.credentials import password_hash
from stations.domain import RegistrationStatus
from stations.models import Site, Station

STATION_PASSWORD = "station-password-0123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Site {n}")


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    identity = factory.Sequence(lambda n: f"CP-{n:04d}")
    site = factory.SubFactory(SiteFactory)
    registration_status = RegistrationStatus.ACCEPTED
    password_hash = factory.LazyFunction(lambda: password_hash(STATION_PASSWORD.encode()))


class IdTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdToken

    id_tag = factory.Sequence(lambda n: f"TAG{n:05d}")
