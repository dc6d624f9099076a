"""The admin's pages for applying a profile to the chargers the user chooses: from the chargers' list
(an action: pick one of the profiles matching the selection) or from a profile (tick its chargers).
Both start a ProfileApplication and go to its page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.domain import ROLES_MANAGING
from csms.tenancy_admin import may_act, scoped
from stations.configuration.models import ConfigurationProfile
from stations.configuration.services.apply import profile_application_start
from stations.configuration.services.drift import profiles_matching, stations_for_profile
from stations.models import Station

TEMPLATE = "admin/configuration/apply.html"


def _station_label(station: Station) -> str:
    hardware = f"{station.vendor} {station.model}".strip()
    parts = [
        station.identity,
        str(station.site or ""),
        hardware,
        "online" if station.is_online else "offline",
    ]
    return " · ".join(part for part in parts if part)


class StationChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _station_label(obj)


class StationsChoiceForm(forms.Form):
    stations = StationChoiceField(
        queryset=Station.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Chargers",
        help_text="Offline chargers are recorded as such; apply again once they are back.",
    )

    def __init__(self, *args: Any, stations: QuerySet[Station], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(StationChoiceField, self.fields["stations"]).queryset = stations


class ProfileChoiceForm(forms.Form):
    profile = forms.TypedChoiceField(widget=forms.RadioSelect, coerce=int, label="Profile")

    def __init__(
        self, *args: Any, matching: list[tuple[ConfigurationProfile, list[Station]]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["profile"]).choices = [
            (
                profile.pk,
                f"{profile} ({profile.organization}): {len(chosen)} of the selected chargers, "
                f"{len(profile.entries.all())} key(s)",
            )
            for profile, chosen in matching
        ]
        if len(matching) == 1:
            self.fields["profile"].initial = matching[0][0].pk


def _render(
    model_admin: admin.ModelAdmin, request: HttpRequest, title: str, form: forms.Form, **context: Any
) -> TemplateResponse:
    return TemplateResponse(
        request,
        TEMPLATE,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": title,
            "form": form,
            "media": model_admin.media + form.media,
            **context,
        },
    )


def _started(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    profile: ConfigurationProfile,
    stations: list[Station],
) -> HttpResponseRedirect:
    application = profile_application_start(
        profile=profile, stations=stations, requested_by=request.user.get_username()
    )
    model_admin.message_user(
        request,
        f"Applying {profile} to {len(stations)} charger(s); their answers appear below.",
        messages.INFO,
    )
    return HttpResponseRedirect(
        reverse("admin:configuration_profileapplication_change", args=[application.pk])
    )


@admin.action(description="Apply a configuration profile…", permissions=["change"])
def apply_configuration_profile(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Station]
) -> HttpResponse | None:
    """The chargers' action: choose one of the profiles matching the selected chargers, then apply it to
    those of them it matches."""
    stations = list(
        scoped(queryset, request, roles=ROLES_MANAGING).select_related("site").order_by("identity")
    )
    if not stations:
        model_admin.message_user(
            request, "None of the selected chargers may be changed by you.", messages.ERROR
        )
        return None
    profiles = scoped(
        ConfigurationProfile.objects.select_related("organization"), request, roles=ROLES_MANAGING
    )
    matching = profiles_matching(profiles=profiles, stations=stations)
    if not matching:
        model_admin.message_user(
            request, "No configuration profile matches the selected chargers.", messages.WARNING
        )
        return None
    form = ProfileChoiceForm(request.POST if "apply" in request.POST else None, matching=matching)
    if "apply" in request.POST and form.is_valid():
        profile, chosen = next((p, s) for p, s in matching if p.pk == form.cleaned_data["profile"])
        return _started(model_admin, request, profile, chosen)
    return _render(
        model_admin,
        request,
        "Apply a configuration profile",
        form,
        stations=stations,
        selected=[s.pk for s in stations],
        action_name="apply_configuration_profile",
        explanation="The profile is sent to those of these chargers it matches (organization, site, "
        "vendor and model).",
    )


def profile_apply_view(model_admin: admin.ModelAdmin, request: HttpRequest, profile_id: int) -> HttpResponse:
    """A profile's chargers, all ticked: apply the profile to those left ticked."""
    profile = get_object_or_404(scoped(ConfigurationProfile.objects.all(), request), pk=profile_id)
    if not may_act(request, ROLES_MANAGING, profile):
        raise PermissionDenied
    stations = scoped(stations_for_profile(profile), request, roles=ROLES_MANAGING).order_by("identity")
    if request.method == "POST":
        form = StationsChoiceForm(request.POST, stations=stations)
        if form.is_valid():
            return _started(model_admin, request, profile, list(form.cleaned_data["stations"]))
    else:
        form = StationsChoiceForm(stations=stations, initial={"stations": list(stations)})
    return _render(
        model_admin,
        request,
        f"Apply profile {profile} to chargers",
        form,
        profile=profile,
        keys=list(profile.entries.all()),
    )


def profile_apply_redirect(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[ConfigurationProfile]
) -> HttpResponse | None:
    """The profiles' action: one profile at a time, on its page of chargers to tick."""
    profiles = list(scoped(queryset, request, roles=ROLES_MANAGING)[:2])
    if len(profiles) != 1:
        model_admin.message_user(request, "Choose one profile you may change.", messages.WARNING)
        return None
    return HttpResponseRedirect(reverse("admin:configuration_profile_apply", args=[profiles[0].pk]))
