"""The admin of people and their tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin_import import token_import_urls
from accounts.domain import ROLES_OWNING
from accounts.models import (
    AccessGroup,
    AccessGroupMember,
    IdToken,
    IdTokenStatus,
    Membership,
    Organization,
    User,
)
from accounts.signals import access_changed_on_commit, id_token_organizations
from csms.tenancy_admin import TenantAdmin, TenantInline, related_only

# Tokens expiring within this many days are flagged, so that cards can be renewed in time.
EXPIRING_SOON_DAYS = 30


class MembershipInline(TenantInline, admin.TabularInline):
    """Who belongs to an organization: seen by its members, changed by superusers."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user", "organization"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """People: superusers only (staff users reach their colleagues through their organization)."""

    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    inlines = [MembershipInline]


@admin.register(Organization)
class OrganizationAdmin(TenantAdmin):
    list_display = ["name", "kind", "site_count", "member_count"]
    list_filter = ["kind"]
    search_fields = ["name"]
    fields = ["name", "kind"]
    inlines = [MembershipInline]
    change_roles = ROLES_OWNING

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                sites_total=Count("sites", distinct=True), members_total=Count("memberships", distinct=True)
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.display(description="sites", ordering="sites_total")
    def site_count(self, organization: Any) -> int:
        return organization.sites_total

    @admin.display(description="staff", ordering="members_total")
    def member_count(self, organization: Any) -> int:
        return organization.members_total


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
class IdTokenAdmin(TenantAdmin):
    list_display = ["id_tag", "label", "organization", "owner", "state", "expires_at", "created_at"]
    list_filter = ["status", ExpiryFilter, related_only("organization")]
    search_fields = ["id_tag", "label", "owner__email", "parent_id_tag"]
    list_select_related = ["owner", "organization"]
    autocomplete_fields = ["owner"]
    fields = ["id_tag", "label", "organization", "parent_id_tag", "owner", "status", "expires_at"]
    change_list_template = "admin/accounts/idtoken/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return token_import_urls(self) + super().get_urls()

    class Media:
        css = {"all": ["admin/csms.css"]}

    def save_model(self, request: HttpRequest, obj: IdToken, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Before and after: a card moved to another organization leaves the first one's lists.
        access_changed_on_commit(
            organization_ids={*id_token_organizations(obj), form.initial.get("organization")}
        )

    def delete_model(self, request: HttpRequest, obj: IdToken) -> None:
        organizations = id_token_organizations(obj)
        super().delete_model(request, obj)
        access_changed_on_commit(organization_ids=organizations)

    def get_readonly_fields(self, request: HttpRequest, obj: IdToken | None = None) -> Any:
        # Choosing a driver means searching all users, which only superusers may; drivers add their
        # own cards in the portal, and imports name owners by email.
        return [] if request.user.is_superuser else ["owner"]

    @admin.display(description="status", ordering="status")
    def state(self, token: IdToken) -> SafeString:
        if token.status == IdTokenStatus.BLOCKED:
            label, css = "Blocked", "faulted"
        elif token.is_expired():
            label, css = "Expired", "unavailable"
        else:
            label, css = "Accepted", "available"
        return format_html('<span class="csms-chip csms-{}">{}</span>', css, label)


class AccessGroupMemberInline(TenantInline, admin.TabularInline):
    model = AccessGroupMember
    extra = 1
    verbose_name_plural = "drivers, by email address (their own cards count, including cards added later)"


class AccessGroupForm(forms.ModelForm):
    class Meta:
        model = AccessGroup
        fields = ["organization", "name", "description", "id_tokens"]

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        organization, cards = data.get("organization"), data.get("id_tokens")
        if organization is not None and cards:
            foreign = [card.id_tag for card in cards if card.organization_id != organization.pk]
            if foreign:
                self.add_error("id_tokens", f"Not cards of {organization}: {', '.join(foreign)}.")
        return data


@admin.register(AccessGroup)
class AccessGroupAdmin(TenantAdmin):
    """Residents, tenants, fleets: the people access rules name."""

    form = AccessGroupForm
    list_display = ["name", "organization", "description", "driver_count", "card_count"]
    list_filter = [related_only("organization")]
    search_fields = ["name", "description", "members__email", "id_tokens__id_tag"]
    autocomplete_fields = ["id_tokens"]
    inlines = [AccessGroupMemberInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        access_changed_on_commit(organization_ids=[form.instance.organization_id])

    def delete_model(self, request: HttpRequest, obj: AccessGroup) -> None:
        super().delete_model(request, obj)
        access_changed_on_commit(organization_ids=[obj.organization_id])

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessGroup]:
        return (
            super()
            .get_queryset(request)
            .select_related("organization")
            .annotate(drivers=Count("members", distinct=True), cards=Count("id_tokens", distinct=True))
        )

    @admin.display(description="drivers", ordering="drivers")
    def driver_count(self, group: Any) -> int:
        return group.drivers

    @admin.display(description="cards", ordering="cards")
    def card_count(self, group: Any) -> int:
        return group.cards
