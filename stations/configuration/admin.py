"""Admin of configuration profiles, snapshots, applications, firmware standards and health-check runs."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from accounts.domain import ROLES_MANAGING
from csms.tenancy_admin import ReadOnlyInline, ReadOnlyMixin, TenantAdmin, TenantInline, may_act, related_only
from stations.configuration import admin_apply, admin_views
from stations.configuration.models import (
    ConfigurationProfile,
    ConfigurationSnapshot,
    FirmwareStandard,
    HealthCheckRun,
    ProfileApplication,
    ProfileApplicationResult,
    ProfileEntry,
)


class ProfileEntryInline(TenantInline, admin.TabularInline):
    model = ProfileEntry
    extra = 1
    fields = ["key", "value"]


@admin.register(ConfigurationProfile)
class ConfigurationProfileAdmin(TenantAdmin):
    list_display = ["name", "organization", "vendor", "model", "site", "keys", "comparison"]
    list_filter = [related_only("organization"), related_only("site")]
    search_fields = ["name", "vendor", "model"]
    list_select_related = ["organization", "site"]
    fields = ["organization", "name", ("vendor", "model"), "site"]
    inlines = [ProfileEntryInline]
    actions = ["apply_to_chargers"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConfigurationProfile]:
        return super().get_queryset(request).annotate(key_count=Count("entries"))

    @admin.display(description="keys", ordering="key_count")
    def keys(self, profile: ConfigurationProfile) -> int:
        return getattr(profile, "key_count", 0)

    @admin.display(description="chargers")
    def comparison(self, profile: ConfigurationProfile) -> str:
        url = reverse("admin:configuration_profile_comparison", args=[profile.pk])
        return format_html('<a href="{}">Compare</a>', url)

    @admin.action(description="Apply to chargers…", permissions=["change"])
    def apply_to_chargers(
        self, request: HttpRequest, queryset: QuerySet[ConfigurationProfile]
    ) -> HttpResponse | None:
        return admin_apply.profile_apply_redirect(self, request, queryset)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        profile = self.get_object(request, object_id)
        may_apply = profile is not None and may_act(request, ROLES_MANAGING, profile)
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "may_apply": may_apply}
        )

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(lambda request, **kwargs: function(self, request, **kwargs))

        return [
            path(
                "<int:profile_id>/comparison/",
                view(admin_views.profile_comparison_view),
                name="configuration_profile_comparison",
            ),
            path(
                "<int:profile_id>/apply/",
                view(admin_apply.profile_apply_view),
                name="configuration_profile_apply",
            ),
            *super().get_urls(),
        ]


@admin.register(ConfigurationSnapshot)
class ConfigurationSnapshotAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["station", "taken_at", "key_count", "requested_by", "comparison"]
    list_filter = [related_only("station__site")]
    search_fields = ["station__identity"]
    list_select_related = ["station"]
    date_hierarchy = "taken_at"
    fields: ClassVar[Any] = ["station", "taken_at", "requested_by", "values_table"]
    readonly_fields = fields

    @admin.display(description="keys")
    def key_count(self, snapshot: ConfigurationSnapshot) -> int:
        return len(snapshot.values)

    @admin.display(description="profiles")
    def comparison(self, snapshot: ConfigurationSnapshot) -> str:
        url = reverse("admin:configuration_station_comparison", args=[snapshot.station_id])
        return format_html('<a href="{}">Compare the charger</a>', url)

    @admin.display(description="configuration")
    def values_table(self, snapshot: ConfigurationSnapshot) -> str:
        read_only = set(snapshot.read_only)
        rows = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            ((k, v, "read-only" if k in read_only else "") for k, v in sorted(snapshot.values.items())),
        )
        return format_html(
            '<table class="csms-table"><thead><tr><th>Key</th><th>Value</th><th></th></tr></thead>'
            "<tbody>{}</tbody></table>",
            rows,
        )

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(lambda request, **kwargs: function(self, request, **kwargs))

        return [
            path(
                "station/<int:station_id>/",
                view(admin_views.station_comparison_view),
                name="configuration_station_comparison",
            ),
            *super().get_urls(),
        ]


class ResultInline(ReadOnlyInline):
    model = ProfileApplicationResult
    fields: ClassVar[Any] = ["station", "key", "value", "status", "detail"]
    readonly_fields = fields


@admin.register(ProfileApplication)
class ProfileApplicationAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["profile", "state", "started_at", "finished_at", "requested_by", "outcome"]
    list_filter = ["state", related_only("profile")]
    list_select_related = ["profile"]
    date_hierarchy = "started_at"
    fields = [
        "profile",
        "state",
        ("started_at", "finished_at"),
        "requested_by",
        "chargers",
        "error",
        "outcome",
    ]
    readonly_fields = [
        "profile",
        "state",
        "started_at",
        "finished_at",
        "requested_by",
        "chargers",
        "error",
        "outcome",
    ]
    inlines = [ResultInline]

    @admin.display(description="chargers chosen")
    def chargers(self, application: ProfileApplication) -> str:
        return ", ".join(application.stations.order_by("identity").values_list("identity", flat=True))

    @admin.display(description="answers")
    def outcome(self, application: ProfileApplication) -> str:
        counts = application.results.values_list("status").annotate(n=Count("id")).order_by("status")
        return ", ".join(f"{n} {status}" for status, n in counts)


@admin.register(FirmwareStandard)
class FirmwareStandardAdmin(TenantAdmin):
    list_display = ["organization", "site", "vendor", "model", "minimum_version"]
    list_filter = [related_only("organization"), related_only("site")]
    search_fields = ["vendor", "model", "minimum_version"]
    list_select_related = ["organization", "site"]
    fields = ["organization", "site", ("vendor", "model"), "minimum_version"]


@admin.register(HealthCheckRun)
class HealthCheckRunAdmin(ReadOnlyMixin, TenantAdmin):
    """Runs span every organization's chargers: superusers only (staff see no rows)."""

    list_display = ["check_name", "started_at", "finished_at", "checked", "problems", "errors"]
    list_filter = ["check_name"]
    date_hierarchy = "started_at"
    fields = [
        "check_name",
        ("started_at", "finished_at"),
        ("checked", "problems", "errors"),
        "findings_table",
    ]
    readonly_fields = [
        "check_name",
        "started_at",
        "finished_at",
        "checked",
        "problems",
        "errors",
        "findings_table",
    ]

    @admin.display(description="findings")
    def findings_table(self, run: HealthCheckRun) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    f.get("station", ""),
                    f.get("result", ""),
                    ", ".join(f"{k}={v}" for k, v in f.items() if k not in ("station", "result")),
                )
                for f in run.findings
            ),
        )
        return format_html(
            '<table class="csms-table"><thead><tr><th>Charger</th><th>Result</th>'
            "<th>Details</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )
