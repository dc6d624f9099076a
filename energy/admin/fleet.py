"""Admin of the fleet planner's inputs (vehicles, needs, grid prices) and its plans, with the per-site
charts (energy/admin/charts.py) hung on the plans' admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from csms.tenancy_admin import ReadOnlyMixin, TenantAdmin, related_only
from energy.admin import charts
from energy.models import ChargingNeed, FleetPlanRecord, FleetVehicle, GridPrice
from stations.services.access import site_zone

CSS = {"all": ["admin/csms.css", "energy/charts.css"]}


@admin.register(FleetVehicle)
class FleetVehicleAdmin(TenantAdmin):
    list_display = ["name", "organization", "id_token", "battery_kwh", "max_kw", "departure_time"]
    list_filter = [related_only("organization")]
    search_fields = ["name", "id_token__id_tag"]
    list_select_related = ["organization", "id_token"]
    autocomplete_fields = ["id_token"]


@admin.register(ChargingNeed)
class ChargingNeedAdmin(TenantAdmin):
    list_display = ["vehicle", "departure_at", "energy_kwh", "session", "updated_at"]
    list_filter = [related_only("vehicle__organization")]
    search_fields = ["vehicle__name"]
    list_select_related = ["vehicle"]
    raw_id_fields = ["session"]


@admin.register(FleetPlanRecord)
class FleetPlanRecordAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = [
        "computed_at",
        "site",
        "status",
        "vehicles",
        "cost",
        "cost_immediate",
        "saving",
        "currency",
        "charts",
    ]
    list_filter = [related_only("site"), "status"]
    list_select_related = ["site"]
    date_hierarchy = "computed_at"
    fields = ["site", "computed_at", "status", "message", "cost", "cost_immediate", "saving", "currency"]
    change_form_template = "admin/energy/fleetplanrecord/change_form.html"
    change_list_template = "admin/energy/fleetplanrecord/change_list.html"

    class Media:
        css = CSS

    @admin.display(description="vehicles")
    def vehicles(self, record: FleetPlanRecord) -> int:
        return len(record.plan.get("vehicles") or ())

    @admin.display(description="charts")
    def charts(self, record: FleetPlanRecord) -> SafeString:
        return format_html(
            '<a href="{}">charts</a>', reverse("admin:energy_site_charts", args=[record.site_id])
        )

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(lambda request, **kwargs: function(self, request, **kwargs))

        return [
            path("charts/", view(charts.site_list_view), name="energy_site_chart_list"),
            path("charts/<int:site_id>/", view(charts.site_charts_view), name="energy_site_charts"),
            path("charts/<int:site_id>/replan/", view(charts.site_replan_view), name="energy_site_replan"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        record = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if record is not None:
            context.update(charts.plan_context(record, site_zone(record.site)))
        return super().change_view(request, object_id, form_url, extra_context=context)


@admin.register(GridPrice)
class GridPriceAdmin(TenantAdmin):
    list_display = ["starts_at", "ends_at", "site", "price_per_kwh", "currency"]
    list_filter = [related_only("site")]
    list_select_related = ["site"]
    date_hierarchy = "starts_at"
