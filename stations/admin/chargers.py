"""Sites and chargers, with the registration and command actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.domain import ROLES_MANAGING, ROLES_OPERATING
from accounts.models import AccessGroup
from csms.tenancy_admin import ReadOnlyInline, TenantAdmin, TenantInline, may_act, related_only, scoped
from stations import admin_commands
from stations.admin.display import (
    CSS,
    admin_link,
    ago,
    changelist_url,
    chip,
    connector_chips,
    kwh,
    online_badge,
    when,
)
from stations.admin.forms import WeekdaysForm
from stations.configuration.admin_apply import apply_configuration_profile
from stations.configuration.admin_views import station_configuration_links
from stations.credentials import password_validate
from stations.domain import RegistrationStatus
from stations.models import (
    AccessRule,
    ChargingSession,
    Connector,
    DeviceVariable,
    Frame,
    OutgoingCall,
    Site,
    Station,
    StatusChange,
)
from stations.services import registry
from stations.services.local_list import local_lists_sync_on_commit

LEVELS = {"success": messages.SUCCESS, "warning": messages.WARNING, "error": messages.ERROR}


class StationForm(forms.ModelForm):
    new_password = forms.CharField(
        label="New password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": 44}),
        help_text="16 to 40 characters: the charger's HTTP Basic password (OCPP AuthorizationKey). "
        "Only a hash is stored. Leave empty to keep the current one.",
    )

    class Meta:
        model = Station
        fields = ["identity", "site", "registration_status", "heartbeat_interval_s"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["new_password"].required = True
            self.fields["new_password"].label = "Password"
            self.fields["new_password"].help_text = (
                "16 to 40 characters: the charger's HTTP Basic password (OCPP AuthorizationKey). "
                "Only a hash is stored."
            )
        if "heartbeat_interval_s" in self.fields:
            self.fields["heartbeat_interval_s"].label = "Heartbeat interval (s)"

    def clean_new_password(self) -> str:
        password = self.cleaned_data["new_password"]
        if password:
            try:
                password_validate(password.encode())
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
        return password


class ConnectorInline(ReadOnlyInline):
    model = Connector
    fields: ClassVar[Any] = [
        "evse_id",
        "connector_id",
        "status_chip",
        "error_code",
        "vendor_error_code",
        "info",
        "since",
    ]
    readonly_fields = fields

    @admin.display(description="status")
    def status_chip(self, connector: Connector) -> SafeString:
        return chip(connector.get_status_display(), connector.status)

    @admin.display(description="since")
    def since(self, connector: Connector) -> SafeString:
        return format_html(
            '<span title="{}">{}</span>', when(connector.status_since), ago(connector.status_since)
        )


class ConnectionFilter(admin.SimpleListFilter):
    title = "connection"
    parameter_name = "online"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Online"), ("no", "Offline"), ("never", "Never connected")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(is_online=True)
        if self.value() == "no":
            return queryset.filter(is_online=False, last_seen_at__isnull=False)
        if self.value() == "never":
            return queryset.filter(last_seen_at__isnull=True)
        return queryset


Action = Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Any]], HttpResponse | None]


@admin.register(Station)
class StationAdmin(TenantAdmin):
    form = StationForm
    list_display = ["identity", "site", "live", "connectors_summary", "registration", "ocpp", "hardware"]
    list_filter = [related_only("site"), ConnectionFilter, "registration_status", "protocol"]
    search_fields = ["identity", "serial_number", "vendor"]
    list_select_related = ["site"]
    actions = ["accept_registration", "reject_registration", apply_configuration_profile]
    add_fieldsets = [
        (
            None,
            {"fields": ["identity", "site", "registration_status", "new_password", "heartbeat_interval_s"]},
        )
    ]
    fieldsets = [
        (None, {"fields": ["identity", "site", "registration_status", "new_password"]}),
        (
            "Connection",
            {
                "fields": [
                    "live",
                    "protocol",
                    "connected_at",
                    "last_boot_at",
                    "heartbeat_interval_s",
                    "charger_status",
                    "journal",
                    "configuration",
                    "pay_qr_codes",
                ]
            },
        ),
        ("Local authorization list", {"fields": ["local_list_state"]}),
        (
            "Reported by the charger",
            {
                "fields": [
                    ("vendor", "model"),
                    "serial_number",
                    "firmware_version",
                    ("iccid", "imsi"),
                    ("meter_type", "meter_serial_number"),
                    ("diagnostics_status", "firmware_status"),
                ]
            },
        ),
        ("Activity", {"fields": ["recent_sessions", "recent_commands"]}),
    ]
    readonly_fields = [
        "live",
        "protocol",
        "connected_at",
        "last_boot_at",
        "charger_status",
        "journal",
        "configuration",
        "vendor",
        "model",
        "serial_number",
        "firmware_version",
        "iccid",
        "imsi",
        "meter_type",
        "meter_serial_number",
        "diagnostics_status",
        "firmware_status",
        "recent_sessions",
        "recent_commands",
        "local_list_state",
        "pay_qr_codes",
    ]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Station]:
        return super().get_queryset(request).prefetch_related("connectors")

    def get_fieldsets(self, request: HttpRequest, obj: Station | None = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Station | None = None) -> Any:
        # The identity is the charger's URL: changing it here would lock the charger out.
        return [*self.readonly_fields, "identity"] if obj is not None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Station | None = None) -> list[Any]:
        return [ConnectorInline] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Station, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.save()
        elif fields := [name for name in form.changed_data if name in StationForm.Meta.fields]:
            # The gateway writes this row all the time (last_seen_at, is_online, channel_name):
            # write back only what was edited, not the state read when the form was loaded.
            obj.save(update_fields=fields)
        if change and "site" in form.changed_data:  # another site's cards belong on its list
            local_lists_sync_on_commit(station_ids=[obj.pk])
        if password := form.cleaned_data.get("new_password"):
            registry.station_password_set(station=obj, password=password)

    @admin.display(description="pay by card")
    def pay_qr_codes(self, station: Station) -> SafeString:
        # The page belongs to billing, reached by its URL name only: stations does not import billing.
        url = reverse("billing:pay_qr", args=[station.identity])
        return format_html('<a href="{}" target="_blank">QR codes to print, one per connector</a>', url)

    @admin.display(description="local list")
    def local_list_state(self, station: Station) -> str:
        if not station.local_list_version:
            return station.local_list_error or "Never sent."
        text = (
            f"Version {station.local_list_version}, {station.local_list.count()} card(s), "
            f"accepted {when(station.local_list_synced_at)}."
        )
        return f"{text} Last attempt: {station.local_list_error}" if station.local_list_error else text

    # --- columns and read-only fields ---------------------------------------------------------------
    @admin.display(description="status", ordering="last_seen_at")
    def live(self, station: Station) -> SafeString:
        return online_badge(station)

    @admin.display(description="registration", ordering="registration_status")
    def registration(self, station: Station) -> SafeString:
        css = {"accepted": "available", "pending": "suspended_ev"}.get(station.registration_status, "faulted")
        return chip(station.get_registration_status_display(), css)

    @admin.display(description="OCPP", ordering="protocol")
    def ocpp(self, station: Station) -> str:
        return station.protocol.removeprefix("ocpp")

    @admin.display(description="hardware", ordering="vendor")
    def hardware(self, station: Station) -> SafeString:
        firmware = format_html('<br><small class="csms-muted">firmware {}</small>', station.firmware_version)
        return format_html(
            "{}{}", f"{station.vendor} {station.model}".strip(), firmware if station.firmware_version else ""
        )

    @admin.display(description="connectors")
    def connectors_summary(self, station: Station) -> SafeString:
        return connector_chips(station.connectors.all())

    @admin.display(description="charger status")
    def charger_status(self, station: Station) -> SafeString:
        error = f" ({station.error_code})" if station.error_code else ""
        return format_html("{}{}", chip(station.get_status_display(), station.status), error)

    @admin.display(description="journal")
    def journal(self, station: Station) -> SafeString:
        return format_html(
            '<a href="{}">OCPP frames of {}</a> · <a href="{}">status history</a>'
            ' · <a href="{}">device model</a>',
            changelist_url(Frame, identity=station.identity),
            station.identity,
            changelist_url(StatusChange, station__id__exact=station.pk),
            changelist_url(DeviceVariable, station__id__exact=station.pk),
        )

    @admin.display(description="configuration")
    def configuration(self, station: Station) -> SafeString:
        return station_configuration_links(station)

    @admin.display(description="recent sessions")
    def recent_sessions(self, station: Station) -> str:
        sessions = station.sessions.select_related("connector").order_by(
            Coalesce("started_at", "stopped_at", "created_at").desc()
        )[:10]
        return render_to_string(
            "admin/stations/station/recent_sessions.html",
            {
                "sessions": [(s, kwh(s.live_energy_wh)) for s in sessions],
                "all_url": changelist_url(ChargingSession, station__id__exact=station.pk),
            },
        )

    @admin.display(description="recent commands")
    def recent_commands(self, station: Station) -> str:
        return render_to_string(
            "admin/stations/station/recent_commands.html",
            {
                "calls": station.calls.order_by("-created_at")[:10],
                "all_url": changelist_url(OutgoingCall, station__id__exact=station.pk),
            },
        )

    # --- actions ------------------------------------------------------------------------------------
    @admin.action(description="Accept registration", permissions=["change"])
    def accept_registration(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._registration_set(request, queryset, RegistrationStatus.ACCEPTED)

    @admin.action(description="Reject registration", permissions=["change"])
    def reject_registration(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._registration_set(request, queryset, RegistrationStatus.REJECTED)

    def _registration_set(
        self, request: HttpRequest, queryset: QuerySet[Station], status: RegistrationStatus
    ) -> None:
        queryset = scoped(queryset, request, roles=ROLES_MANAGING)
        count = registry.station_registration_set(
            station_ids=list(queryset.values_list("pk", flat=True)), status=status
        )
        self.message_user(
            request,
            f"{count} charger(s) now {status.label.lower()}; a connected charger learns "
            "it at its next BootNotification.",
            messages.SUCCESS,
        )

    def get_actions(self, request: HttpRequest) -> dict[str, tuple[Callable[..., Any], str, str] | None]:
        actions: dict[str, tuple[Callable[..., Any], str, str] | None] = super().get_actions(request)
        if may_act(request, ROLES_OPERATING):  # technicians operate chargers they may not reconfigure
            for name, command in admin_commands.COMMANDS.items():
                actions[f"command_{name}"] = (
                    self._command_action(name),
                    f"command_{name}",
                    f"Command: {command.label}…",
                )
        return actions

    @staticmethod
    def _command_action(name: str) -> Action:
        def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
            assert isinstance(modeladmin, StationAdmin)
            return modeladmin.command_view(request, queryset, name)

        return action

    def command_view(
        self, request: HttpRequest, queryset: QuerySet[Station], name: str
    ) -> HttpResponse | None:
        """Ask the command's questions, then send it to every selected charger and report each answer."""
        command = admin_commands.COMMANDS[name]
        queryset = scoped(queryset, request, roles=ROLES_OPERATING)
        stations = list(queryset.select_related("site").order_by("identity"))
        applying = "apply" in request.POST
        form = command.form_class(request.POST if applying else None, stations=stations, prefix="command")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": command.label,
            "command": command,
            "stations": [(s, online_badge(s)) for s in stations],
            "form": form,
            "action_name": f"command_{name}",
            "media": self.media + form.media,
        }
        if not (applying and form.is_valid()):
            return TemplateResponse(request, "admin/stations/station/command_form.html", context)
        outcomes = admin_commands.command_run(
            command=command,
            stations=stations,
            data=form.cleaned_data,
            requested_by=f"admin:{request.user.get_username()}",
        )
        if not outcomes:
            self.message_user(request, "Nothing to send.", messages.WARNING)
        for outcome in outcomes:
            if not command.result_template or outcome.level != "success":
                self.message_user(request, outcome.text, LEVELS[outcome.level])
        if command.result_template:
            return TemplateResponse(request, command.result_template, {**context, "outcomes": outcomes})
        return None


class SiteStationInline(ReadOnlyInline):
    model = Station
    fields: ClassVar[Any] = ["charger", "live", "connectors_summary", "registration", "hardware"]
    readonly_fields = fields
    verbose_name_plural = "chargers"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Station]:
        return super().get_queryset(request).prefetch_related("connectors")

    @admin.display(description="charger")
    def charger(self, station: Station) -> SafeString:
        return admin_link(station, station.identity)

    live = StationAdmin.live
    registration = StationAdmin.registration
    hardware = StationAdmin.hardware
    connectors_summary = StationAdmin.connectors_summary


class AccessRuleForm(WeekdaysForm):
    class Meta:
        model = AccessRule
        fields = ["station", "group", "weekdays", "window_start", "window_end", "max_duration_min"]


class AccessRuleInline(TenantInline, admin.TabularInline):
    model = AccessRule
    form = AccessRuleForm
    extra = 0
    verbose_name_plural = "access rules (they apply when the site is restricted)"

    def get_formset(self, request: HttpRequest, obj: Site | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        # A rule's charger is one of this site's, its group one of the site's organization's.
        stations = cast(forms.ModelChoiceField, formset.form.base_fields["station"])
        groups = cast(forms.ModelChoiceField, formset.form.base_fields["group"])
        # A foreign key's form field always has a queryset.
        all_stations = cast(QuerySet[Station], stations.queryset)
        all_groups = cast(QuerySet[AccessGroup], groups.queryset)
        stations.queryset = all_stations.filter(site=obj) if obj else all_stations.none()
        stations.empty_label, groups.empty_label = "Every charger", "The public"
        org = obj.organization_id if obj else None
        groups.queryset = all_groups.filter(organization_id=org) if org else all_groups.none()
        return formset


@admin.register(Site)
class SiteAdmin(TenantAdmin):
    list_display = ["name", "organization", "access_policy", "address", "chargers", "time_zone"]
    list_filter = [related_only("organization"), "access_policy"]
    search_fields = ["name", "address"]
    fields = ["name", "organization", "address", "time_zone", "access_policy"]
    inlines = [AccessRuleInline, SiteStationInline]

    class Media:
        css = CSS

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Rules or the policy may have changed who belongs on the site's chargers' lists.
        site = form.instance
        local_lists_sync_on_commit(
            station_ids=site.stations.filter(is_online=True).values_list("pk", flat=True)
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Site]:
        return (
            super()
            .get_queryset(request)
            .annotate(total=Count("stations"), online=Count("stations", filter=Q(stations__is_online=True)))
        )

    @admin.display(description="chargers online", ordering="total")
    def chargers(self, site: Any) -> SafeString:
        url = changelist_url(Station, site__id__exact=site.pk)
        css = (
            "online"
            if site.online == site.total and site.total
            else ("offline" if not site.online else "partial")
        )
        return format_html('<a href="{}">{}</a>', url, chip(f"{site.online} / {site.total}", css))
