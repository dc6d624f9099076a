"""Charging sessions, with their meter values."""

from __future__ import annotations

import csv
from datetime import datetime
from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from csms.tenancy_admin import related_only
from stations.admin.display import CSS, chip, kwh, short_time, when
from stations.admin.logs import ReadOnlyAdmin
from stations.exports import SESSION_COLUMNS, session_data
from stations.models import ChargingSession, ChargingSessionQuerySet, MeterSample


class SessionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("open", "Open"), ("closed", "Closed"), ("anomaly", "With an anomaly")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return cast(ChargingSessionQuerySet, queryset).open()
        if self.value() == "closed":
            return queryset.filter(stopped_at__isnull=False)
        if self.value() == "anomaly":
            return queryset.exclude(anomaly="")
        return queryset


MAX_SAMPLES = 600  # rows of MeterSample read for one session's detail page
ENERGY, POWER = "Energy.Active.Import.Register", "Power.Active.Import"


def sparkline(points: list[tuple[datetime, float]], width: int = 560, height: int = 48) -> str:
    """Return SVG polyline points for the series, scaled to the box."""
    if len(points) < 2:
        return ""
    t0, t1 = points[0][0], points[-1][0]
    low, high = min(v for _, v in points), max(v for _, v in points)
    span_t, span_v = (t1 - t0).total_seconds() or 1, (high - low) or 1
    return " ".join(
        f"{(t - t0).total_seconds() / span_t * width:.1f},{height - (v - low) / span_v * height:.1f}"
        for t, v in points
    )


@admin.register(ChargingSession)
class ChargingSessionAdmin(ReadOnlyAdmin):
    actions = ["export_csv"]
    list_display = ["transaction", "charger", "id_tag", "started", "stopped", "energy", "ending"]
    list_filter = [SessionStateFilter, related_only("station__site"), "stop_reason"]
    search_fields = ["=external_id", "id_tag", "=station__identity"]
    list_select_related = ["station", "connector"]
    date_hierarchy = "started_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "station",
                    "connector",
                    "transaction",
                    "id_tag",
                    "id_token",
                    "authorization_status",
                    "reservation_id",
                ]
            },
        ),
        ("Time and energy", {"fields": ["started_at", "stopped_at", "duration", "meter", "energy"]}),
        ("End", {"fields": ["stop_reason", "stop_id_tag", "anomaly"]}),
        (
            "Access limit",
            {"fields": ["limit", "allowed_until", "limit_stop_requested_at", "limit_stop_outcome"]},
        ),
        ("Meter values", {"fields": ["meter_values"]}),
    ]
    readonly_fields = ["transaction", "duration", "meter", "energy", "meter_values"]

    class Media:
        css = CSS

    @admin.action(description="Export the selected sessions as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[ChargingSession]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="sessions.csv"'
        writer = csv.DictWriter(response, fieldnames=[*SESSION_COLUMNS, "site", "limit"])
        writer.writeheader()
        for session in queryset.select_related("station__site", "connector").order_by("started_at"):
            row = session_data(session)
            writer.writerow(
                {key: row[key] for key in SESSION_COLUMNS}
                | {"site": session.station.site or "", "limit": session.limit}
            )
        return response

    @admin.display(description="transaction", ordering="external_id")
    def transaction(self, session: ChargingSession) -> str:
        return session.external_id or f"(#{session.pk})"

    @admin.display(description="started", ordering="started_at")
    def started(self, session: ChargingSession) -> str:
        return short_time(session.started_at)

    @admin.display(description="stopped", ordering="stopped_at")
    def stopped(self, session: ChargingSession) -> str:
        return short_time(session.stopped_at, session.started_at)

    @admin.display(description="charger", ordering="station__identity")
    def charger(self, session: ChargingSession) -> str:
        return session.station.identity + (f" #{session.connector.evse_id}" if session.connector else "")

    @admin.display(description="energy", ordering="energy_wh")
    def energy(self, session: ChargingSession) -> SafeString:
        if session.stopped_at is None and session.started_at is not None:
            return format_html(
                '<span class="nowrap">{}</span> {}', kwh(session.live_energy_wh), chip("live", "charging")
            )
        return format_html("{}", kwh(session.live_energy_wh))

    @admin.display(description="meter register")
    def meter(self, session: ChargingSession) -> SafeString:
        end = session.meter_stop_wh if session.meter_stop_wh is not None else session.meter_last_wh
        return format_html(
            '{} → {} <small class="csms-muted">({})</small>',
            kwh(session.meter_start_wh) or "?",
            kwh(end) or "?",
            "at the stop" if session.meter_stop_wh is not None else "last reading",
        )

    @admin.display(description="duration")
    def duration(self, session: ChargingSession) -> str:
        if session.started_at is None:
            return ""
        minutes = int(((session.stopped_at or timezone.now()) - session.started_at).total_seconds() // 60)
        return f"{minutes // 60} h {minutes % 60:02d} min" + ("" if session.stopped_at else " so far")

    @admin.display(description="stop reason", ordering="stop_reason")
    def ending(self, session: ChargingSession) -> SafeString:
        anomaly = chip("⚠ anomaly", "faulted", session.anomaly) if session.anomaly else ""
        return (
            format_html("{}<br>{}", session.get_stop_reason_display(), anomaly)
            if anomaly
            else format_html("{}", session.get_stop_reason_display())
        )

    @admin.display(description="samples")
    def meter_values(self, session: ChargingSession) -> str:
        samples = list(
            MeterSample.objects.filter(session=session).order_by("sampled_at", "id")[: MAX_SAMPLES + 1]
        )
        columns = sorted({(s.measurand, s.phase, s.unit) for s in samples[:MAX_SAMPLES]})
        rows: dict[datetime, dict[tuple[str, str, str], str]] = {}
        energy: list[tuple[datetime, float]] = []
        power: list[tuple[datetime, float]] = []
        for s in samples[:MAX_SAMPLES]:
            rows.setdefault(s.sampled_at, {})[(s.measurand, s.phase, s.unit)] = f"{s.value.normalize():f}"
            if not s.phase and s.measurand in (ENERGY, POWER):
                factor = 1000 if s.unit.lower().startswith("k") else 1
                (energy if s.measurand == ENERGY else power).append((s.sampled_at, float(s.value) * factor))
        return render_to_string(
            "admin/stations/chargingsession/meter_values.html",
            {
                "columns": columns,
                "truncated": len(samples) > MAX_SAMPLES,
                "limit": MAX_SAMPLES,
                "rows": [(when(at), [values.get(c, "") for c in columns]) for at, values in rows.items()],
                "energy_line": sparkline(energy),
                "power_line": sparkline(power),
                "energy_range": (kwh(int(energy[0][1])), kwh(int(energy[-1][1]))) if energy else None,
                "power_max_kw": f"{max(v for _, v in power) / 1000:.1f}" if power else None,
            },
        )
