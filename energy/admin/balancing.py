"""Admin of what load balancing needs (grid connection, circuits, wiring) and what it did."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from csms.tenancy_admin import ReadOnlyMixin, TenantAdmin, related_only
from energy.models import (
    Allocation,
    AllocationChange,
    ChargerWiring,
    Circuit,
    ConnectorLimit,
    SiteGrid,
    SiteLoadSample,
)

CSS = {"all": ["admin/csms.css"]}
LIMIT_FIELDS: list[str | tuple[str, ...]] = [
    "phase_limit_amps",
    ("l1_limit_amps", "l2_limit_amps", "l3_limit_amps"),
    "power_limit_kw",
]


@admin.register(SiteGrid)
class SiteGridAdmin(TenantAdmin):
    list_display = [
        "site",
        "balancing_enabled",
        "phase_limit_amps",
        "power_limit_kw",
        "safe_default_amps",
        "charts",
    ]
    list_filter = ["balancing_enabled"]
    search_fields = ["site__name"]
    list_select_related = ["site"]
    fields = [
        "site",
        "balancing_enabled",
        *LIMIT_FIELDS,
        ("voltage", "min_current_amps"),
        ("safe_default_amps", "base_load_amps"),
    ]

    @admin.display(description="charts")
    def charts(self, grid: SiteGrid) -> str:
        url = reverse("admin:energy_site_charts", args=[grid.site_id])
        return format_html('<a href="{}">Load, allocation and fleet plan</a>', url)


@admin.register(Circuit)
class CircuitAdmin(TenantAdmin):
    list_display = ["name", "site", "parent", "phase_limit_amps", "power_limit_kw"]
    list_filter = [related_only("site")]
    search_fields = ["name", "site__name"]
    list_select_related = ["site", "parent"]
    fields = ["site", "name", "parent", *LIMIT_FIELDS]


@admin.register(ChargerWiring)
class ChargerWiringAdmin(TenantAdmin):
    list_display = ["station", "circuit", "phases", "phase_rotation", "max_amps", "priority", "is_dc"]
    list_editable = ["circuit", "phases", "phase_rotation", "max_amps", "priority"]
    list_filter = [related_only("station__site"), "phases", "is_dc"]
    search_fields = ["station__identity"]
    list_select_related = ["station", "circuit"]
    autocomplete_fields = ["station"]


@admin.register(ConnectorLimit)
class ConnectorLimitAdmin(TenantAdmin):
    list_display = ["connector", "max_amps"]
    search_fields = ["connector__station__identity"]
    list_select_related = ["connector__station"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = [
        "station",
        "evse_id",
        "amps",
        "applied_amps",
        "status",
        "composite_limit_amps",
        "composite_mismatch",
        "sent_at",
        "reason",
    ]
    list_filter = [related_only("station__site"), "status", "composite_mismatch"]
    search_fields = ["station__identity"]
    list_select_related = ["station"]

    class Media:
        css = CSS


@admin.register(AllocationChange)
class AllocationChangeAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["at", "site", "station", "evse_id", "amps_before", "amps", "status", "reason"]
    list_filter = [related_only("site"), "status"]
    search_fields = ["station__identity"]
    list_select_related = ["site", "station"]
    date_hierarchy = "at"


@admin.register(SiteLoadSample)
class SiteLoadSampleAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = [
        "at",
        "site",
        "measured_l1_amps",
        "measured_l2_amps",
        "measured_l3_amps",
        "allocated_l1_amps",
        "allocated_l2_amps",
        "allocated_l3_amps",
        "limit_amps",
        "charging",
    ]
    list_filter = [related_only("site")]
    list_select_related = ["site"]
    date_hierarchy = "at"
