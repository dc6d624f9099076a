"""The per-site energy charts in the admin (/admin/energy/fleetplanrecord/charts/<site id>/): the load per
phase over time against the limit, the allocation per charger now, and the fleet plan with what it
saves. Staff see only their organizations' sites; those who may manage a site may have it re-planned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.domain import ROLES_MANAGING
from csms.tenancy_admin import may_act, scoped
from energy.admin.charts_svg import (
    AllocationRow,
    LoadPoint,
    allocation_chart,
    load_chart,
    plan_chart,
)
from energy.models import Allocation, FleetPlanRecord, SiteLoadSample
from energy.services.fleet_state import RecordedPlan, plan_read
from energy.services.fleet_triggers import site_fleet_replan_soon
from energy.services.loads import DEFAULT_WIRING
from stations.models import Site
from stations.services.access import site_zone

HOURS = (6, 24, 72)
MAX_POINTS = 600  # about one per 1.5 px of the chart's width


def load_points(site_id: int, since: datetime) -> list[LoadPoint]:
    """The site's load samples since `since`; more than MAX_POINTS are merged in runs, each keeping its
    highest currents and lowest limit, so that no peak disappears."""
    rows = list(
        SiteLoadSample.objects.filter(site_id=site_id, at__gte=since)
        .order_by("at")
        .values_list(
            "at",
            "measured_l1_amps",
            "measured_l2_amps",
            "measured_l3_amps",
            "allocated_l1_amps",
            "allocated_l2_amps",
            "allocated_l3_amps",
            "limit_amps",
        )
    )
    run = max(1, -(-len(rows) // MAX_POINTS))
    points = []
    for start in range(0, len(rows), run):
        chunk = rows[start : start + run]
        limits = [row[7] for row in chunk if row[7] is not None]
        points.append(
            LoadPoint(
                at=chunk[0][0],
                measured=(max(r[1] for r in chunk), max(r[2] for r in chunk), max(r[3] for r in chunk)),
                allocated=max(max(r[4:7]) for r in chunk),
                limit=min(limits) if limits else None,
            )
        )
    return points


def allocation_rows(site_id: int) -> list[AllocationRow]:
    rows = (
        Allocation.objects.filter(station__site_id=site_id, evse_id__gt=0)
        .select_related("station__wiring")
        .order_by("station__identity", "evse_id")
    )
    result = []
    for row in rows:
        wiring = getattr(row.station, "wiring", None) or DEFAULT_WIRING
        result.append(
            AllocationRow(
                label=f"{row.station.identity} #{row.evse_id}",
                amps=row.amps,
                maximum=wiring.max_amps,
                measured=row.measured_amps,
                busy=row.session_id is not None,
                status=row.get_status_display(),
                reason=row.reason,
            )
        )
    return result


@dataclass(frozen=True)
class PlanRow:
    name: str
    charger: str
    departure: datetime
    needed_kwh: Decimal
    energy_kwh: Decimal
    shortfall_kwh: Decimal
    cost: Decimal
    periods: list[str]
    sent: str
    error: str


def plan_rows(plan: RecordedPlan, zone: ZoneInfo) -> list[PlanRow]:
    """Per vehicle of a plan: its departure, energy, shortfall, cost and periods, in the site's time."""

    def period(start: datetime, end: datetime, kw: Decimal, amps: Decimal) -> str:
        day = "" if start.astimezone(zone).date() == plan_day else start.astimezone(zone).strftime("%a ")
        return (
            f"{day}{start.astimezone(zone):%H:%M}–{end.astimezone(zone):%H:%M}: "
            f"{kw.quantize(Decimal('0.01')).normalize():f} kW ({amps} A)"
        )

    plan_day = plan.start.astimezone(zone).date() if plan.start else None
    return [
        PlanRow(
            name=v.name,
            charger=f"{v.identity} #{v.evse_id}",
            departure=v.departure.astimezone(zone),
            needed_kwh=v.needed_kwh,
            energy_kwh=v.energy_kwh,
            shortfall_kwh=v.shortfall_kwh,
            cost=v.cost,
            periods=[period(p.start, p.end, p.kw, p.amps) for p in v.periods],
            sent="accepted" if v.accepted else (v.profile or "not sent"),
            error=v.error,
        )
        for v in plan.vehicles
    ]


def plan_context(record: FleetPlanRecord | None, zone: ZoneInfo) -> dict[str, Any]:
    """What the plan's table and chart need (the charts page and the plan's own page)."""
    if record is None:
        return {"record": None}
    plan = plan_read(record.plan)
    return {
        "record": record,
        "plan": plan,
        "plan_rows": plan_rows(plan, zone),
        "plan_chart": plan_chart(plan, zone=zone, currency=record.currency),
        "zone": zone,
    }


def _site(request: HttpRequest, site_id: int) -> Site:
    return get_object_or_404(scoped(Site.objects.all(), request), pk=site_id)


def site_charts_view(model_admin: admin.ModelAdmin, request: HttpRequest, site_id: int) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    site = _site(request, site_id)
    zone = site_zone(site)
    try:
        hours = int(request.GET.get("hours", 24))
    except ValueError:
        hours = 24
    hours = hours if hours in HOURS else 24
    now = timezone.now()
    since = now - timedelta(hours=hours)
    record = FleetPlanRecord.objects.filter(site=site).order_by("-computed_at", "-pk").first()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Energy at {site}",
        "opts": model_admin.model._meta,
        "site": site,
        "zone": zone,
        "hours": hours,
        "hour_choices": HOURS,
        "since": since.astimezone(zone),
        "load": load_chart(load_points(site.pk, since), since=since, until=now, zone=zone),
        "allocations": allocation_chart(allocation_rows(site.pk)),
        "may_replan": may_act(request, ROLES_MANAGING, site),
        "has_grid": hasattr(site, "grid"),
        **plan_context(record, zone),
    }
    return TemplateResponse(request, "admin/energy/charts/site.html", context)


def site_list_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    sites = scoped(Site.objects.all(), request).select_related("grid", "organization").order_by("name")
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Energy charts per site",
        "opts": model_admin.model._meta,
        "sites": sites,
    }
    return TemplateResponse(request, "admin/energy/charts/site_list.html", context)


def site_replan_view(model_admin: admin.ModelAdmin, request: HttpRequest, site_id: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    site = _site(request, site_id)
    if not may_act(request, ROLES_MANAGING, site):
        raise PermissionDenied
    site_fleet_replan_soon(site.pk)
    messages.success(request, "The fleet is planned again in a few seconds; reload to see the new plan.")
    return HttpResponseRedirect(reverse("admin:energy_site_charts", args=[site.pk]))
