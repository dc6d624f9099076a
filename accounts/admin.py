"""The admin of people and their tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin_import import token_import_urls
from accounts.models import IdToken, IdTokenStatus, User

# Tokens expiring within this many days are flagged, so that cards can be renewed in time.
EXPIRING_SOON_DAYS = 30


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active", "last_login"]


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("expired", "Expired"),
            ("soon", f"Expires within {EXPIRING_SOON_DAYS} days"),
            ("valid", "Not expired"),
            ("never", "Never expires"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "soon":
            return queryset.filter(
                expires_at__gt=now, expires_at__lte=now + timedelta(days=EXPIRING_SOON_DAYS)
            )
        if self.value() == "valid":
            return queryset.exclude(expires_at__lte=now)
        if self.value() == "never":
            return queryset.filter(expires_at__isnull=True)
        return queryset


@admin.register(IdToken)
class IdTokenAdmin(admin.ModelAdmin):
    list_display = ["id_tag", "label", "owner", "state", "expires_at", "created_at"]
    list_filter = ["status", ExpiryFilter]
    search_fields = ["id_tag", "label", "owner__email"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    fields = ["id_tag", "label", "owner", "status", "expires_at"]
    change_list_template = "admin/accounts/idtoken/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return token_import_urls(self) + super().get_urls()

    class Media:
        css = {"all": ["admin/csms.css"]}

    @admin.display(description="status", ordering="status")
    def state(self, token: IdToken) -> SafeString:
        if token.status == IdTokenStatus.BLOCKED:
            label, css = "Blocked", "faulted"
        elif token.is_expired():
            label, css = "Expired", "unavailable"
        else:
            label, css = "Accepted", "available"
        return format_html('<span class="csms-chip csms-{}">{}</span>', css, label)
