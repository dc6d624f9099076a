"""Compare a charger's latest snapshot with the profiles that apply to it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from stations.configuration.models import ConfigurationProfile, ConfigurationSnapshot
from stations.configuration.services.keys import key_for_protocol
from stations.models import Station

OK, DIFFERENT, MISSING, READ_ONLY = "ok", "different", "missing", "read-only"


@dataclass(frozen=True)
class KeyDrift:
    key: str  # as the profile names it
    reported_key: str  # as the charger's snapshot names it ("" when the version has no such key)
    expected: str
    actual: str | None  # None: missing from the snapshot
    result: str  # ok, different, missing, read-only (different, and the charger cannot change it)


def _same(expected: str, actual: str) -> bool:
    """Values compare as text; booleans and lists of measurands as chargers write them vary in case and
    spacing."""

    def norm(value: str) -> str:
        return ",".join(part.strip() for part in value.split(",")).lower()

    return expected == actual or norm(expected) == norm(actual)


def profiles_for_station(station: Station) -> QuerySet[ConfigurationProfile]:
    """The profiles of the charger's organization matching its vendor, model and site."""
    if station.site is None or station.site.organization_id is None:
        return ConfigurationProfile.objects.none()
    return (
        ConfigurationProfile.objects.filter(organization_id=station.site.organization_id)
        .filter(Q(site__isnull=True) | Q(site_id=station.site_id))
        .filter(Q(vendor="") | Q(vendor__iexact=station.vendor))
        .filter(Q(model="") | Q(model__iexact=station.model))
        .prefetch_related("entries")
    )


def stations_for_profile(profile: ConfigurationProfile) -> QuerySet[Station]:
    stations = Station.objects.filter(site__organization_id=profile.organization_id)
    if profile.site_id:
        stations = stations.filter(site_id=profile.site_id)
    if profile.vendor:
        stations = stations.filter(vendor__iexact=profile.vendor)
    if profile.model:
        stations = stations.filter(model__iexact=profile.model)
    return stations.select_related("site")


def profiles_matching(
    *, profiles: QuerySet[ConfigurationProfile], stations: list[Station]
) -> list[tuple[ConfigurationProfile, list[Station]]]:
    """Those of `profiles` matching any of the chargers, each with the chargers it matches."""
    organizations = {
        s.site.organization_id for s in stations if s.site is not None and s.site.organization_id is not None
    }
    by_pk = {s.pk: s for s in stations}
    matching = []
    for profile in profiles.filter(organization_id__in=organizations).prefetch_related("entries"):
        chosen = set(stations_for_profile(profile).filter(pk__in=by_pk).values_list("pk", flat=True))
        if chosen:
            matching.append((profile, [s for s in stations if s.pk in chosen]))
    return matching


def drift_compare(
    *, profile: ConfigurationProfile, snapshot: ConfigurationSnapshot, protocol: str
) -> list[KeyDrift]:
    """Each of the profile's keys against the snapshot, in the profile's order."""
    results = []
    read_only = set(snapshot.read_only)
    for entry in profile.entries.all():
        reported = key_for_protocol(entry.key, protocol) or ""
        actual = snapshot.values.get(reported) if reported else None
        if actual is None:
            result = MISSING
        elif _same(entry.value, actual):
            result = OK
        else:
            result = READ_ONLY if reported in read_only else DIFFERENT
        results.append(KeyDrift(entry.key, reported, entry.value, actual, result))
    return results


def drift_problems(results: list[KeyDrift]) -> list[KeyDrift]:
    return [r for r in results if r.result != OK]
