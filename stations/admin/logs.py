"""The message logs: the OCPP frame journal, status history and CSMS-initiated commands, all read-only."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cached_property
from typing import Any, ClassVar, cast

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from csms.tenancy_admin import TenantAdmin, related_only
from stations.admin.display import CSS, changelist_url, chip, pretty_json
from stations.models import DeviceVariable, Direction, Frame, OutgoingCall, StatusChange
from stations.ocpp.adapters import ADAPTERS

OCPP_ACTIONS = sorted(
    {a for adapter in ADAPTERS.values() for a in (*adapter.handlers, *adapter.csms_actions)}
)
CSMS_ACTIONS = sorted({a for adapter in ADAPTERS.values() for a in adapter.csms_actions})


class CappedCountPaginator(Paginator):
    """Count at most `cap` rows: an exact COUNT(*) over millions of journal rows takes seconds."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return cast(QuerySet[Any], self.object_list)[: self.cap + 1].count()  # the admin paginates querysets


class ReadOnlyAdmin(TenantAdmin):
    """Message logs are written by the gateway only; staff see their organizations', superusers may delete."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


class RecentFilter(admin.SimpleListFilter):
    """Time windows that need no query, unlike a date hierarchy's DISTINCT over the whole table."""

    title = "time"
    parameter_name = "since"
    field = "created_at"
    windows = {
        "15m": ("Last 15 minutes", timedelta(minutes=15)),
        "1h": ("Last hour", timedelta(hours=1)),
        "24h": ("Last 24 hours", timedelta(days=1)),
        "7d": ("Last 7 days", timedelta(days=7)),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in self.windows.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        window = self.value()
        if window in self.windows:
            return queryset.filter(**{f"{self.field}__gte": timezone.now() - self.windows[window][1]})
        return queryset


class OccurredFilter(RecentFilter):
    field = "occurred_at"


def static_filter(title: str, parameter: str, choices: list[tuple[Any, str]]) -> type[admin.SimpleListFilter]:
    """A filter on fixed choices: AllValuesFieldListFilter would SELECT DISTINCT over the whole table."""

    class Filter(admin.SimpleListFilter):
        parameter_name = parameter

        def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[Any, str]]:
            return [(str(value), label) for value, label in choices]

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            return queryset.filter(**{parameter: self.value()}) if self.value() else queryset

    Filter.title = title
    return Filter


@admin.register(Frame)
class FrameAdmin(ReadOnlyAdmin):
    list_display = ["time", "identity_link", "arrow", "kind", "action", "exchange_link", "text_short"]
    list_filter = [
        RecentFilter,
        "direction",
        static_filter("type", "message_type", [(2, "CALL"), (3, "CALLRESULT"), (4, "CALLERROR")]),
        static_filter("action", "action", [(a, a) for a in OCPP_ACTIONS]),
    ]
    search_fields = ["identity", "action", "unique_id", "text"]
    paginator = CappedCountPaginator
    list_per_page = 100
    fields: ClassVar[Any] = [
        "created_at",
        "identity_link",
        "direction",
        "kind",
        "action",
        "exchange_link",
        "text_pretty",
    ]
    readonly_fields = fields

    class Media:
        css = CSS

    @admin.display(description="time", ordering="created_at")
    def time(self, frame: Frame) -> SafeString:
        local = timezone.localtime(frame.created_at)
        return format_html(
            '<span title="{}">{}</span>', local.isoformat(), local.strftime("%d %b %H:%M:%S.%f")[:-3]
        )

    @admin.display(description="charger", ordering="identity")
    def identity_link(self, frame: Frame) -> SafeString:
        return format_html(
            '<a href="{}" title="Frames of this charger">{}</a>',
            changelist_url(Frame, identity=frame.identity),
            frame.identity,
        )

    @admin.display(description="")
    def arrow(self, frame: Frame) -> SafeString:
        return format_html(
            '<span class="csms-arrow csms-{}" title="{}">{}</span>',
            frame.direction,
            frame.get_direction_display(),
            "→" if frame.direction == Direction.IN else "←",
        )

    @admin.display(description="type")
    def kind(self, frame: Frame) -> SafeString:
        label, css = {2: ("CALL", "call"), 3: ("RESULT", "result"), 4: ("ERROR", "faulted")}.get(
            frame.message_type or 0, ("?", "unknown")
        )
        return chip(label, css)

    @admin.display(description="unique id")
    def exchange_link(self, frame: Frame) -> SafeString:
        if not frame.unique_id:
            return SafeString("")
        short = frame.unique_id if len(frame.unique_id) <= 12 else frame.unique_id[:8] + "…"
        return format_html(
            '<a href="{}" title="{} (the call and its answer)"><code>{}</code></a>',
            changelist_url(Frame, unique_id=frame.unique_id),
            frame.unique_id,
            short,
        )

    @admin.display(description="text")
    def text_short(self, frame: Frame) -> SafeString:
        return format_html(
            '<code class="csms-frame-text" title="{}">{}</code>', frame.text[:1000], frame.text[:300]
        )

    @admin.display(description="frame")
    def text_pretty(self, frame: Frame) -> SafeString:
        try:
            return pretty_json(json.loads(frame.text))
        except ValueError:
            return format_html('<pre class="csms-json">{}</pre>', frame.text)


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["occurred", "charger", "status_chip", "error", "received"]
    list_filter = [OccurredFilter, "status", related_only("station__site")]
    search_fields = ["=station__identity", "error_code"]
    list_select_related = ["station", "connector"]
    paginator = CappedCountPaginator

    class Media:
        css = CSS

    @admin.display(description="occurred (charger's clock)", ordering="occurred_at")
    def occurred(self, change: StatusChange) -> str:
        return timezone.localtime(change.occurred_at).strftime("%d %b %H:%M:%S")

    @admin.display(description="received")
    def received(self, change: StatusChange) -> str:
        return timezone.localtime(change.received_at).strftime("%d %b %H:%M:%S")

    @admin.display(description="charger", ordering="station__identity")
    def charger(self, change: StatusChange) -> str:
        return change.station.identity + (f" #{change.connector.evse_id}" if change.connector else " (whole)")

    @admin.display(description="error / info")
    def error(self, change: StatusChange) -> str:
        return " · ".join(v for v in (change.error_code, change.vendor_error_code, change.info) if v)

    @admin.display(description="status", ordering="status")
    def status_chip(self, change: StatusChange) -> SafeString:
        return chip(change.get_status_display(), change.status)


@admin.register(OutgoingCall)
class OutgoingCallAdmin(ReadOnlyAdmin):
    list_display = ["sent", "charger", "action", "status_chip", "requested_by", "answer_short"]
    list_filter = [
        "status",
        static_filter("action", "action", [(a, a) for a in CSMS_ACTIONS]),
        related_only("station__site"),
    ]
    search_fields = ["=station__identity", "=unique_id", "requested_by"]
    list_select_related = ["station"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "station",
                    "action",
                    "status_chip",
                    "requested_by",
                    "unique_id",
                    "created_at",
                    "completed_at",
                    "journal",
                ]
            },
        ),
        ("Request", {"fields": ["payload_pretty"]}),
        ("Answer", {"fields": ["response_pretty", "error_code", "error_description"]}),
    ]
    readonly_fields = ["status_chip", "journal", "payload_pretty", "response_pretty"]

    class Media:
        css = CSS

    @admin.display(description="sent", ordering="created_at")
    def sent(self, call: OutgoingCall) -> SafeString:
        local = timezone.localtime(call.created_at)
        return format_html('<span title="{}">{}</span>', local.isoformat(), local.strftime("%d %b %H:%M:%S"))

    @admin.display(description="charger", ordering="station__identity")
    def charger(self, call: OutgoingCall) -> str:
        return call.station.identity

    @admin.display(description="status", ordering="status")
    def status_chip(self, call: OutgoingCall) -> SafeString:
        css = {"answered": "available", "pending": "preparing", "offline": "offline"}.get(
            call.status, "faulted"
        )
        return chip(call.get_status_display(), css)

    @admin.display(description="answer")
    def answer_short(self, call: OutgoingCall) -> SafeString:
        if call.error_description or call.error_code:
            text = f"{call.error_code} {call.error_description}".strip()
        else:
            text = json.dumps(call.response) if call.response is not None else ""
        return format_html('<span title="{}">{}</span>', text[:1000], text[:200])

    @admin.display(description="payload")
    def payload_pretty(self, call: OutgoingCall) -> SafeString:
        return pretty_json(call.payload)

    @admin.display(description="response")
    def response_pretty(self, call: OutgoingCall) -> SafeString:
        return pretty_json(call.response)

    @admin.display(description="frames")
    def journal(self, call: OutgoingCall) -> SafeString:
        return format_html(
            '<a href="{}">CALL and answer in the journal</a>', changelist_url(Frame, unique_id=call.unique_id)
        )


@admin.register(DeviceVariable)
class DeviceVariableAdmin(ReadOnlyAdmin):
    """The components and variables 2.0.1 stations report (NotifyReport, after "Read the device model")."""

    list_display = [
        "station",
        "component_name",
        "evse",
        "variable_name",
        "attribute_type",
        "value",
        "mutability",
        "unit",
        "reported_at",
    ]
    list_filter = [related_only("station"), "component", "attribute_type", "mutability"]
    search_fields = ["station__identity", "component", "variable", "value"]
    list_select_related = ["station"]

    @admin.display(description="component", ordering="component")
    def component_name(self, row: DeviceVariable) -> str:
        return f"{row.component}[{row.component_instance}]" if row.component_instance else row.component

    @admin.display(description="EVSE / connector", ordering="evse_id")
    def evse(self, row: DeviceVariable) -> str:
        if not row.evse_id:
            return "station"
        return f"{row.evse_id}/{row.connector_id}" if row.connector_id else str(row.evse_id)

    @admin.display(description="variable", ordering="variable")
    def variable_name(self, row: DeviceVariable) -> str:
        return f"{row.variable}[{row.variable_instance}]" if row.variable_instance else row.variable
