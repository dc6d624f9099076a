"""The monitoring pages of the admin: the live network dashboard, the uptime report (with CSV), and
the connection history. Staff see only their organizations' sites."""

from __future__ import annotations

import csv
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from csms.tenancy_admin import ReadOnlyMixin, TenantAdmin, is_member, scoped
from stations.models import Site
from stations.monitoring.charts import bar_chart
from stations.monitoring.models import ConnectionPeriod, NetworkDashboard, UptimeReport
from stations.monitoring.services.dashboard import daily_figures, next_day_start, sites_live
from stations.monitoring.services.uptime import uptime_csv_rows, uptime_report

CHART_DAYS = (14, 30)


class PageAdmin(admin.ModelAdmin):
    """An admin index entry that is a page, not a list of rows."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_member(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def sites(self, request: HttpRequest) -> list[Site]:
        return list(scoped(Site.objects.all(), request).order_by("name"))


def _choice(value: str | None, choices: tuple[int, ...]) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return choices[0]
    return number if number in choices else choices[0]


@admin.register(NetworkDashboard)
class NetworkDashboardAdmin(PageAdmin):
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        sites = self.sites(request)
        days = _choice(request.GET.get("days"), CHART_DAYS)
        now = timezone.now()
        figures = daily_figures(sites, days=days, now=now)
        rollover = next_day_start(sites, now=now)
        context = {
            **self.admin_site.each_context(request),
            "title": "Network dashboard",
            "opts": self.model._meta,
            "rows": sites_live(site.pk for site in sites),
            "days": days,
            "day_choices": CHART_DAYS,
            # The page reloads then, for the new day's rows and bars; counted from the server's clock.
            "rollover_in_s": int((rollover - now).total_seconds()) + 1 if rollover else None,
            "energy_chart": bar_chart([(f.day, f.energy_wh / 1000) for f in figures], unit="kWh", digits=1),
            "utilization_chart": bar_chart(
                [(f.day, 100 * f.utilization) for f in figures], unit="%", top=100, digits=1
            ),
        }
        return TemplateResponse(request, "admin/monitoring/dashboard.html", context)


def _day(value: str | None, default: datetime) -> datetime:
    try:
        return datetime.combine(
            datetime.strptime(value or "", "%Y-%m-%d").date(), time(0), tzinfo=default.tzinfo
        )
    except ValueError:
        return default


@admin.register(UptimeReport)
class UptimeReportAdmin(PageAdmin):
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        zone = ZoneInfo(str(timezone.get_current_timezone()))
        today = datetime.combine(timezone.localdate(), time(0), tzinfo=zone)
        since = _day(request.GET.get("since"), today - timedelta(days=30))
        until_day = _day(request.GET.get("until"), today)
        until = until_day + timedelta(days=1)  # the last day is included
        error = "" if since < until else "The first day must not be after the last."
        sites = self.sites(request)
        if site_id := request.GET.get("site"):
            sites = [site for site in sites if str(site.pk) == site_id]
        report = uptime_report(sites=sites if not error else [], since=since, until=until)
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="uptime-{since:%Y%m%d}-{until_day:%Y%m%d}.csv"'
            )
            csv.writer(response).writerows(uptime_csv_rows(report))
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": "Uptime report",
            "opts": self.model._meta,
            "report": report,
            "since": since.date(),
            "until": until_day.date(),
            "site_id": request.GET.get("site", ""),
            "sites": self.sites(request),
            "error": error,
            "query": request.GET.urlencode(),
        }
        return TemplateResponse(request, "admin/monitoring/uptime.html", context)


@admin.register(ConnectionPeriod)
class ConnectionPeriodAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["station", "connected_at", "disconnected_at", "reason"]
    list_filter = ["reason"]
    search_fields = ["station__identity"]
    date_hierarchy = "connected_at"
    list_select_related = ["station"]
