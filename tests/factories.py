from __future__ import annotations

import factory

from accounts.domain import Role
from accounts.models import AccessGroup, IdToken, Membership, Organization, User
from stations.credentials import password_hash
from stations.domain import AccessPolicy, RegistrationStatus
from stations.models import AccessRule, Site, Station

STATION_PASSWORD = "station-password-0123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    """A staff user with a role in an organization."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory, is_staff=True)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.MANAGER


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


class AccessGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessGroup

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Group {n}")


class AccessRuleFactory(factory.django.DjangoModelFactory):
    """A rule at a restricted site; the site is made restricted."""

    class Meta:
        model = AccessRule

    site = factory.SubFactory(SiteFactory, access_policy=AccessPolicy.RESTRICTED)
