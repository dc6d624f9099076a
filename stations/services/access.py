"""Who may charge where and when: a card's own status first, then the site's access rules.

At a site whose policy is open any accepted card may charge. At a restricted site a card needs a
rule for a group it belongs to (or for the public) whose weekdays and hours include the moment; the
most generous of the matching rules sets how long the session may last.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.domain import Authorization, AuthorizationStatus
from accounts.models import AccessGroup, User
from accounts.selectors import id_token_group_ids
from accounts.services import id_token_authorize
from stations.domain import AccessPolicy
from stations.models import AccessRule, Site, Station
from stations.services.windows import WEEKDAY_NAMES as WEEKDAY_NAMES  # re-exported for the admin
from stations.services.windows import local_at, weekdays_parse, window_close

# A deadline of None means no limit; it beats every time when rules are compared.
Deadline = datetime | None


def site_zone(site: Site | None) -> ZoneInfo:
    """The site's time zone; UTC for a charger without a site, or a zone name that is not one."""
    if site is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(site.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def rule_weekdays(rule: AccessRule) -> set[int]:
    return weekdays_parse(rule.weekdays)


def rule_window_end(rule: AccessRule, at: datetime, zone: ZoneInfo) -> tuple[bool, Deadline]:
    """Whether the rule's days and hours include `at`, and when that window closes (None: never).

    A window whose end is not after its start runs past midnight and belongs to the day it opens on;
    the end is exclusive. A rule without hours covers whole days, and its window runs on through the
    following allowed days."""
    days = rule_weekdays(rule)
    if rule.window_start is None or rule.window_end is None:
        local = at.astimezone(zone)
        if local.weekday() not in days:
            return False, None
        if len(days) == 7:
            return True, None
        closing = local.date() + timedelta(days=1)
        while closing.weekday() in days:
            closing += timedelta(days=1)
        return True, local_at(closing, time(0), zone)
    close = window_close(days=days, start=rule.window_start, end=rule.window_end, at=at, zone=zone)
    return close is not None, close


def rule_deadline(rule: AccessRule, at: datetime, window_end: Deadline) -> Deadline:
    """When a session started at `at` under this rule must end: its window's close or its maximum
    duration, whichever comes first."""
    ends = [window_end] if window_end is not None else []
    if rule.max_duration_min is not None:
        ends.append(at + timedelta(minutes=rule.max_duration_min))
    return min(ends) if ends else None


def rule_describe(rule: AccessRule, deadline: Deadline, zone: ZoneInfo) -> str:
    """The limit a rule sets, in words, for the session record and the driver."""
    who = rule.group.name if rule.group is not None else "Public access"
    parts = []
    if rule.max_duration_min is not None:
        parts.append(f"at most {rule.max_duration_min} min")
    if deadline is not None:
        parts.append(f"until {deadline.astimezone(zone):%a %H:%M}")
    return f"{who}: {', '.join(parts)}" if parts else who


def rules_for_station(station: Station) -> list[AccessRule]:
    if station.site_id is None:
        return []  # rules belong to a site
    return list(
        AccessRule.objects.filter(site_id=station.site_id)
        .filter(Q(station__isnull=True) | Q(station_id=station.pk))
        .select_related("group")
    )


def access_decide(*, station: Station, token_pk: int, at: datetime) -> Authorization:
    """Apply the site's rules to an accepted card: Accepted with the session's limit, or why not."""
    site = station.site
    if site is None or site.access_policy == AccessPolicy.OPEN:
        return Authorization(status=AuthorizationStatus.ACCEPTED, id_token_pk=token_pk)
    groups = id_token_group_ids(token_pk)
    candidates = [
        rule for rule in rules_for_station(station) if rule.group_id is None or rule.group_id in groups
    ]
    if not candidates:
        return Authorization(status=AuthorizationStatus.NOT_AT_THIS_LOCATION, id_token_pk=token_pk)
    zone = site_zone(site)
    best: tuple[AccessRule, Deadline] | None = None
    for rule in candidates:
        inside, window_end = rule_window_end(rule, at, zone)
        if not inside:
            continue
        deadline = rule_deadline(rule, at, window_end)
        if best is None or deadline is None or (best[1] is not None and deadline > best[1]):
            best = (rule, deadline)
        if deadline is None:
            break
    if best is None:
        return Authorization(status=AuthorizationStatus.NOT_AT_THIS_TIME, id_token_pk=token_pk)
    rule, deadline = best
    limit = rule_describe(rule, deadline, zone) if deadline is not None else ""
    return Authorization(
        status=AuthorizationStatus.ACCEPTED, id_token_pk=token_pk, allowed_until=deadline, limit=limit
    )


def access_authorize(*, station_id: int, id_tag: str, at: datetime) -> Authorization:
    """Whether the card may charge at this charger at this moment (Authorize and session starts)."""
    authorization = id_token_authorize(id_tag=id_tag, at=at)
    if authorization.status != AuthorizationStatus.ACCEPTED or authorization.id_token_pk is None:
        return authorization
    station = Station.objects.select_related("site").get(pk=station_id)
    decision = access_decide(station=station, token_pk=authorization.id_token_pk, at=at)
    return dataclasses.replace(
        authorization,
        status=decision.status,
        allowed_until=decision.allowed_until,
        limit=decision.limit,
    )


def sites_usable_by(user: User) -> QuerySet[Site]:
    """Sites where the driver may charge at some time: open ones, ones with a public rule, and ones
    with a rule for a group the driver is in (by email address or by one of their cards)."""
    by_email = Q(members__email__iexact=user.email) if user.email else Q(pk__in=[])
    groups = AccessGroup.objects.filter(by_email | Q(id_tokens__owner=user))
    ruled = AccessRule.objects.filter(site=OuterRef("pk")).filter(
        Q(group__isnull=True) | Q(group__in=groups.values("pk"))
    )
    return Site.objects.filter(Q(access_policy=AccessPolicy.OPEN) | Exists(ruled))
