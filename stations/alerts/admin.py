"""Alerts in the admin: read-only lists scoped by organization; operators acknowledge and close them."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.domain import ROLES_OPERATING
from csms.tenancy_admin import ReadOnlyInline, ReadOnlyMixin, TenantAdmin, may_act, related_only, scoped
from stations.admin.display import CSS, chip
from stations.alerts import services
from stations.alerts.domain import Severity
from stations.alerts.models import Alert, AlertNotification

SEVERITY_CHIPS: dict[str, str] = {
    Severity.CRITICAL: "faulted",
    Severity.WARNING: "partial",
    Severity.INFO: "unknown",
}


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("closed", "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        if self.value() == "open":
            return queryset.filter(closed_at__isnull=True)
        if self.value() == "closed":
            return queryset.filter(closed_at__isnull=False)
        return queryset


class NotificationInline(ReadOnlyInline):
    model = AlertNotification
    fields: ClassVar[Any] = ["event", "channel", "recipient", "attempts", "sent_at", "error"]
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["opened", "state_chip", "severity_chip", "kind", "summary", "site", "count"]
    list_display_links = ["opened", "summary"]
    list_filter = [OpenFilter, "kind", "severity", related_only("site")]
    search_fields = ["summary", "key", "station__identity"]
    list_select_related = ["station", "site", "acknowledged_by"]
    date_hierarchy = "opened_at"
    readonly_fields = [
        "kind",
        "key",
        "severity",
        "station",
        "site",
        "evse_id",
        "summary",
        "evidence_pretty",
        "opened_at",
        "last_seen_at",
        "count",
        "closed_at",
        "close_reason",
        "acknowledged_by",
        "acknowledged_at",
    ]
    exclude = ["evidence"]
    inlines = [NotificationInline]
    actions = ["acknowledge", "close"]

    class Media:
        css = CSS

    @admin.display(description="opened", ordering="opened_at")
    def opened(self, alert: Alert) -> str:
        return date_format(timezone.localtime(alert.opened_at), "j M H:i")

    @admin.display(description="state", ordering="closed_at")
    def state_chip(self, alert: Alert) -> SafeString:
        if alert.closed_at is not None:
            return chip("closed", "available")
        if alert.acknowledged_at:
            return chip("acknowledged", "partial", f"by {alert.acknowledged_by}")
        return chip("open", "faulted")

    @admin.display(description="severity", ordering="severity")
    def severity_chip(self, alert: Alert) -> SafeString:
        return chip(alert.get_severity_display(), SEVERITY_CHIPS[alert.severity])

    @admin.display(description="evidence")
    def evidence_pretty(self, alert: Alert) -> str:
        return format_html("<pre>{}</pre>", json.dumps(alert.evidence, indent=2, sort_keys=True, default=str))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return may_act(request, ROLES_OPERATING)

    @admin.action(description="Acknowledge the selected alerts", permissions=["operate"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        alerts = scoped(queryset, request, roles=ROLES_OPERATING)
        done = sum(services.alert_acknowledge(alert=alert, user=request.user) for alert in alerts)
        self.message_user(request, f"{done} alert(s) acknowledged.", messages.SUCCESS)

    @admin.action(description="Close the selected alerts", permissions=["operate"])
    def close(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        alerts = scoped(queryset, request, roles=ROLES_OPERATING)
        reason = f"closed by {request.user}"
        done = sum(services.alert_close(alert=alert, reason=reason) for alert in alerts)
        self.message_user(request, f"{done} alert(s) closed.", messages.SUCCESS)
