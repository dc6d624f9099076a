"""Admin of the fleet planner's inputs (vehicles, needs, grid prices) and its plans."""

from __future__ import annotations

from django.contrib import admin

from csms.tenancy_admin import ReadOnlyMixin, TenantAdmin, related_only
from energy.models import ChargingNeed, FleetPlanRecord, FleetVehicle, GridPrice


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
    list_display = ["computed_at", "site", "status", "cost", "cost_immediate", "saving", "currency"]
    list_filter = [related_only("site"), "status"]
    list_select_related = ["site"]
    date_hierarchy = "computed_at"


@admin.register(GridPrice)
class GridPriceAdmin(TenantAdmin):
    list_display = ["starts_at", "ends_at", "site", "price_per_kwh", "currency"]
    list_filter = [related_only("site")]
    list_select_related = ["site"]
    date_hierarchy = "starts_at"
