"""Who may charge where and when: every boundary of the access rules, in the site's time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from accounts.domain import AuthorizationStatus
from accounts.models import AccessGroupMember, IdTokenStatus
from stations.domain import AccessPolicy
from stations.services.access import access_authorize, sites_usable_by
from tests.factories import (
    AccessGroupFactory,
    AccessRuleFactory,
    IdTokenFactory,
    SiteFactory,
    StationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = "01234"  # Monday to Friday


def berlin(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in the week of Monday 2026-11-23, Berlin time (day 0 = Monday)."""
    return datetime(2026, 11, 23 + day, hour, minute, second, tzinfo=BERLIN)


MON, WED, FRI, SAT, SUN = 0, 2, 4, 5, 6


@pytest.fixture
def site():
    return SiteFactory(access_policy=AccessPolicy.RESTRICTED, time_zone="Europe/Berlin")


@pytest.fixture
def station(site):
    return StationFactory(site=site)


@pytest.fixture
def residents(site):
    return AccessGroupFactory(name="Residents")


@pytest.fixture
def resident_card(residents):
    card = IdTokenFactory(id_tag="RESIDENT01")
    residents.id_tokens.add(card)
    return card


def authorize(station, card, at):
    return access_authorize(station_id=station.pk, id_tag=card.id_tag, at=at)


def office_hours_rule(site, group, **fields):
    values = {"weekdays": WEEKDAYS, "window_start": time(7), "window_end": time(19)} | fields
    return AccessRuleFactory(site=site, group=group, **values)


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (berlin(WED, 6, 59, 59), AuthorizationStatus.NOT_AT_THIS_TIME),
        (berlin(WED, 7), AuthorizationStatus.ACCEPTED),  # the start is inside
        (berlin(WED, 18, 59, 59), AuthorizationStatus.ACCEPTED),
        (berlin(WED, 19), AuthorizationStatus.NOT_AT_THIS_TIME),  # the end is not
        (berlin(FRI, 12), AuthorizationStatus.ACCEPTED),
        (berlin(SAT, 12), AuthorizationStatus.NOT_AT_THIS_TIME),
        (berlin(SUN, 12), AuthorizationStatus.NOT_AT_THIS_TIME),
    ],
)
def test_a_window_holds_from_its_start_up_to_not_including_its_end_on_its_weekdays(
    site, station, residents, resident_card, at, status
):
    office_hours_rule(site, residents)
    assert authorize(station, resident_card, at).status == status


def test_hours_are_the_sites_local_time_not_utc(site, station, residents, resident_card):
    office_hours_rule(site, residents)
    # 06:30 UTC is 07:30 in Berlin in November.
    at = datetime(2026, 11, 25, 6, 30, tzinfo=ZoneInfo("UTC"))
    assert authorize(station, resident_card, at).status == AuthorizationStatus.ACCEPTED


def test_a_session_may_last_until_the_window_closes(site, station, residents, resident_card):
    office_hours_rule(site, residents)
    authorization = authorize(station, resident_card, berlin(WED, 18))
    assert authorization.allowed_until == berlin(WED, 19)
    assert authorization.limit == "Residents: until Wed 19:00"


def test_the_maximum_duration_ends_a_session_before_the_window_does(site, station, residents, resident_card):
    office_hours_rule(site, residents, max_duration_min=120)
    early = authorize(station, resident_card, berlin(WED, 10))
    late = authorize(station, resident_card, berlin(WED, 18))
    assert early.allowed_until == berlin(WED, 12)
    assert early.limit == "Residents: at most 120 min, until Wed 12:00"
    assert late.allowed_until == berlin(WED, 19)


@pytest.mark.parametrize(
    ("at", "allowed_until"),
    [
        (berlin(FRI, 21, 59), None),
        (berlin(FRI, 22), berlin(SAT, 6)),
        (berlin(SAT, 5, 59), berlin(SAT, 6)),  # still Friday's window
        (berlin(SAT, 6), None),
        (berlin(SAT, 22), None),  # Saturday opens no window
        (berlin(MON, 3), None),  # Sunday night: Sunday opens no window
    ],
)
def test_a_window_past_midnight_belongs_to_the_day_it_opens(
    site, station, residents, resident_card, at, allowed_until
):
    AccessRuleFactory(site=site, group=residents, weekdays="4", window_start=time(22), window_end=time(6))
    authorization = authorize(station, resident_card, at)
    if allowed_until is None:
        assert authorization.status == AuthorizationStatus.NOT_AT_THIS_TIME
    else:
        assert authorization.status == AuthorizationStatus.ACCEPTED
        assert authorization.allowed_until == allowed_until


def test_a_rule_without_hours_runs_through_its_days_to_the_midnight_before_the_first_other_day(
    site, station, residents, resident_card
):
    AccessRuleFactory(site=site, group=residents, weekdays=WEEKDAYS)
    assert authorize(station, resident_card, berlin(MON, 9)).allowed_until == berlin(SAT, 0)
    assert authorize(station, resident_card, berlin(FRI, 23, 59)).allowed_until == berlin(SAT, 0)
    assert authorize(station, resident_card, berlin(SAT, 0)).status == AuthorizationStatus.NOT_AT_THIS_TIME


def test_an_every_day_all_day_rule_sets_no_limit(site, station, residents, resident_card):
    AccessRuleFactory(site=site, group=residents)
    authorization = authorize(station, resident_card, berlin(SUN, 3))
    assert authorization.status == AuthorizationStatus.ACCEPTED
    assert (authorization.allowed_until, authorization.limit) == (None, "")


def test_a_duration_alone_limits_from_the_start(site, station, residents, resident_card):
    AccessRuleFactory(site=site, group=residents, max_duration_min=90)
    at = berlin(SUN, 23, 30)
    assert authorize(station, resident_card, at).allowed_until == at + timedelta(minutes=90)


def test_a_card_outside_every_group_with_a_rule_is_not_allowed_at_this_location(site, station, residents):
    office_hours_rule(site, residents)
    stranger = IdTokenFactory()
    assert authorize(station, stranger, berlin(WED, 10)).status == AuthorizationStatus.NOT_AT_THIS_LOCATION


def test_a_driver_listed_by_email_brings_all_their_cards_into_the_group(site, station, residents):
    office_hours_rule(site, residents)
    driver = UserFactory(email="Ana.Resident@example.com")
    card = IdTokenFactory(owner=driver)
    AccessGroupMember.objects.create(group=residents, email="ana.resident@EXAMPLE.com")
    assert authorize(station, card, berlin(WED, 10)).status == AuthorizationStatus.ACCEPTED


def test_the_public_rule_lets_any_accepted_card_charge_within_its_limits(site, station):
    AccessRuleFactory(site=site, group=None, weekdays="0123456", max_duration_min=60)
    authorization = authorize(station, IdTokenFactory(), berlin(SAT, 15))
    assert authorization.status == AuthorizationStatus.ACCEPTED
    assert authorization.limit == "Public access: at most 60 min, until Sat 16:00"


def test_without_a_public_rule_the_public_may_not_charge(site, station, residents):
    AccessRuleFactory(site=site, group=residents)
    assert authorize(station, IdTokenFactory(), berlin(SAT, 15)).status == (
        AuthorizationStatus.NOT_AT_THIS_LOCATION
    )


@pytest.mark.parametrize(
    ("card_fields", "status"),
    [
        ({"status": IdTokenStatus.BLOCKED}, AuthorizationStatus.BLOCKED),
        ({"expires_at": berlin(WED, 9, 59, 59)}, AuthorizationStatus.EXPIRED),
        ({"expires_at": berlin(WED, 10)}, AuthorizationStatus.EXPIRED),  # expiry is the first invalid moment
        ({"expires_at": berlin(WED, 10, 0, 1)}, AuthorizationStatus.ACCEPTED),
    ],
)
def test_blocked_and_expired_cards_are_refused_before_any_rule(site, station, residents, card_fields, status):
    AccessRuleFactory(site=site, group=None)
    card = IdTokenFactory(**card_fields)
    residents.id_tokens.add(card)
    assert authorize(station, card, berlin(WED, 10)).status == status


def test_an_unknown_card_is_invalid_even_where_the_public_may_charge(site, station):
    AccessRuleFactory(site=site, group=None)
    authorization = access_authorize(station_id=station.pk, id_tag="NEVER-SEEN", at=berlin(WED, 10))
    assert authorization.status == AuthorizationStatus.INVALID


def test_the_most_generous_matching_rule_wins(site, station, residents, resident_card):
    AccessRuleFactory(site=site, group=None, max_duration_min=60)
    AccessRuleFactory(site=site, group=residents, max_duration_min=240)
    assert authorize(station, resident_card, berlin(WED, 10)).allowed_until == berlin(WED, 14)
    AccessRuleFactory(site=site, group=residents)  # no limit at all
    assert authorize(station, resident_card, berlin(WED, 10)).allowed_until is None


def test_a_rule_for_one_charger_does_not_open_the_sites_others(site, station, residents, resident_card):
    reserved = StationFactory(site=site)
    AccessRuleFactory(site=site, station=reserved, group=residents)
    assert authorize(reserved, resident_card, berlin(WED, 10)).status == AuthorizationStatus.ACCEPTED
    assert authorize(station, resident_card, berlin(WED, 10)).status == (
        AuthorizationStatus.NOT_AT_THIS_LOCATION
    )


def test_another_sites_rules_do_not_count(station, residents, resident_card):
    AccessRuleFactory(group=residents)  # at another restricted site
    assert authorize(station, resident_card, berlin(WED, 10)).status == (
        AuthorizationStatus.NOT_AT_THIS_LOCATION
    )


def test_an_open_site_and_a_charger_without_a_site_accept_any_accepted_card(residents):
    open_site_station = StationFactory(site=SiteFactory(access_policy=AccessPolicy.OPEN))
    AccessRuleFactory(site=open_site_station.site, group=residents, max_duration_min=5)  # ignored: open
    siteless = StationFactory(site=None)
    card = IdTokenFactory()
    for station in (open_site_station, siteless):
        authorization = authorize(station, card, berlin(SUN, 3))
        assert (authorization.status, authorization.allowed_until) == (AuthorizationStatus.ACCEPTED, None)


def test_a_driver_sees_the_sites_they_may_use_and_no_others(residents):
    driver = UserFactory(email="driver@example.com")
    open_site = SiteFactory(access_policy=AccessPolicy.OPEN)
    public = AccessRuleFactory(group=None).site
    by_email = AccessRuleFactory(group=residents).site
    AccessGroupMember.objects.create(group=residents, email="DRIVER@example.com")
    fleet = AccessGroupFactory()
    fleet.id_tokens.add(IdTokenFactory(owner=driver))
    by_card = AccessRuleFactory(group=fleet).site
    AccessRuleFactory(group=AccessGroupFactory())  # a site for others only
    SiteFactory(access_policy=AccessPolicy.RESTRICTED)  # a site without rules: nobody

    assert set(sites_usable_by(driver)) == {open_site, public, by_email, by_card}
