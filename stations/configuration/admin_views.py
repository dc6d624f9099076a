"""Admin pages comparing chargers' latest snapshots with their profiles, per profile or per charger, and
the charger page's links to them."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.domain import ROLES_MANAGING
from csms.tenancy_admin import may_act, scoped
from stations.configuration.models import ConfigurationProfile, ConfigurationSnapshot
from stations.configuration.services.drift import (
    KeyDrift,
    drift_compare,
    drift_problems,
    profiles_for_station,
    stations_for_profile,
)
from stations.configuration.services.snapshots import snapshot_latest, snapshots_take
from stations.models import Station


@dataclass
class Comparison:
    station: Station
    profile: ConfigurationProfile
    snapshot: ConfigurationSnapshot | None
    rows: list[KeyDrift]

    @property
    def problems(self) -> int:
        return len(drift_problems(self.rows))


def _compare(station: Station, profile: ConfigurationProfile) -> Comparison:
    snapshot = snapshot_latest(station)
    rows = (
        []
        if snapshot is None
        else drift_compare(profile=profile, snapshot=snapshot, protocol=station.protocol)
    )
    return Comparison(station, profile, snapshot, rows)


def _render(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    title: str,
    comparisons: list[Comparison],
    stations: list[Station],
    may_read: bool,
) -> HttpResponse:
    if request.method == "POST":
        if not may_read:
            raise PermissionDenied
        outcomes = snapshots_take(stations=stations, requested_by=request.user.get_username())
        for outcome in outcomes:
            if outcome.snapshot is None:
                messages.warning(request, f"{outcome.station}: {outcome.error}")
        read = sum(o.snapshot is not None for o in outcomes)
        messages.info(request, f"Read the configuration of {read} of {len(outcomes)} charger(s).")
        return HttpResponseRedirect(request.get_full_path())
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "comparisons": comparisons,
        "may_read": may_read and bool(stations),
    }
    return TemplateResponse(request, "admin/configuration/comparison.html", context)


def profile_comparison_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, profile_id: int
) -> HttpResponse:
    profile = get_object_or_404(scoped(ConfigurationProfile.objects.all(), request), pk=profile_id)
    stations = list(scoped(stations_for_profile(profile), request))
    comparisons = [_compare(station, profile) for station in stations]
    title = f"Chargers against profile {profile}"
    return _render(
        model_admin, request, title, comparisons, stations, may_act(request, ROLES_MANAGING, profile)
    )


def station_comparison_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, station_id: int
) -> HttpResponse:
    station = scoped(Station.objects.select_related("site"), request).filter(pk=station_id).first()
    if station is None:
        raise Http404
    comparisons = [_compare(station, profile) for profile in profiles_for_station(station)]
    title = f"{station} against its configuration profiles"
    return _render(
        model_admin, request, title, comparisons, [station], may_act(request, ROLES_MANAGING, station)
    )


def station_configuration_links(station: Station) -> SafeString:
    """The charger page's links to its comparison with its profiles and its latest snapshot."""
    comparison = format_html(
        '<a href="{}">Compare with its profiles</a>',
        reverse("admin:configuration_station_comparison", args=[station.pk]),
    )
    snapshot = snapshot_latest(station)
    if snapshot is None:
        return format_html('{} · <span class="csms-muted">never read</span>', comparison)
    url = reverse("admin:configuration_configurationsnapshot_change", args=[snapshot.pk])
    return format_html(
        '{} · <a href="{}">latest snapshot ({})</a>', comparison, url, f"{snapshot.taken_at:%Y-%m-%d %H:%M}"
    )
