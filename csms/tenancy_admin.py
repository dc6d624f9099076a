"""The admin, scoped: staff see their organizations' things and change them as their role allows;
superusers see everything.

Every model the admin shows names the path from its rows to their organization here. Querysets,
object pages, actions, search, autocomplete, list filters and the choices of foreign keys all go
through `scoped`, so a staff member cannot reach another organization's rows, not even by URL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.domain import ROLES_MANAGING, Role
from accounts.models import Organization
from accounts.tenancy import organizations_of

ScopeFilter = Callable[[QuerySet[Any], QuerySet[Organization]], QuerySet[Any]]


def _frames_of(queryset: QuerySet[Any], organizations: QuerySet[Organization]) -> QuerySet[Any]:
    from stations.models import Station

    stations = Station.objects.filter(site__organization__in=organizations)
    return queryset.filter(identity__in=stations.values("identity"))


# Model label -> lookup path from its rows to their organization ("" for the organization itself),
# or a function filtering a queryset by organizations for rows that do not hold a foreign key.
ORGANIZATION_PATHS: dict[str, str | ScopeFilter] = {
    "accounts.organization": "",
    "accounts.membership": "organization",
    "accounts.idtoken": "organization",
    "accounts.accessgroup": "organization",
    "accounts.accessgroupmember": "group__organization",
    "stations.site": "organization",
    "stations.station": "site__organization",
    "stations.connector": "station__site__organization",
    "stations.accessrule": "site__organization",
    "stations.chargingsession": "station__site__organization",
    "stations.statuschange": "station__site__organization",
    "stations.outgoingcall": "station__site__organization",
    "stations.devicevariable": "station__site__organization",
    "stations.locallistentry": "station__site__organization",
    "stations.frame": _frames_of,
    "billing.tariff": "organization",
    "billing.tariffband": "tariff__organization",
    "billing.tariffassignment": "tariff__organization",
    "billing.sessionprice": "session__station__site__organization",
    "billing.payment": "session__station__site__organization",
    "billing.invoiceseries": "organization",
    "billing.invoice": "organization",
    "energy.sitegrid": "site__organization",
    "energy.circuit": "site__organization",
    "energy.chargerwiring": "station__site__organization",
    "energy.connectorlimit": "connector__station__site__organization",
    "energy.allocation": "station__site__organization",
    "energy.allocationchange": "site__organization",
    "energy.siteloadsample": "site__organization",
    "energy.fleetvehicle": "organization",
    "energy.chargingneed": "vehicle__organization",
    "energy.fleetplanrecord": "site__organization",
    "energy.gridprice": "site__organization",
    "firmware.firmwarefile": "organization",
    "firmware.firmwarecampaign": "organization",
    "firmware.firmwareupdate": "campaign__organization",
    "diagnostics.diagnosticsrequest": "station__site__organization",
    "alerts.alert": "site__organization",
    "alerts.alertnotification": "alert__site__organization",
    "alerts.connectionattempt": "station__site__organization",
    "monitoring.connectionperiod": "station__site__organization",
    "configuration.configurationsnapshot": "station__site__organization",
    "configuration.configurationprofile": "organization",
    "configuration.profileentry": "profile__organization",
    "configuration.profileapplication": "profile__organization",
    "configuration.profileapplicationresult": "application__profile__organization",
    "configuration.firmwarestandard": "organization",
}


def _organizations(request: HttpRequest, roles: Collection[Role] | None) -> QuerySet[Organization]:
    """The user's organizations (with one of `roles`), worked out once per request."""
    cache: dict[Any, list[int]] = request.__dict__.setdefault("_csms_organizations", {})
    key = frozenset(roles) if roles is not None else None
    if key not in cache:
        cache[key] = list(organizations_of(request.user, roles=roles).values_list("pk", flat=True))
    return Organization.objects.filter(pk__in=cache[key])


def scoped(
    queryset: QuerySet[Any], request: HttpRequest, *, roles: Collection[Role] | None = None
) -> QuerySet[Any]:
    """The rows of `queryset` the request's user may see (or, with `roles`, may act on)."""
    if request.user.is_superuser:
        return queryset
    path = ORGANIZATION_PATHS.get(queryset.model._meta.label_lower)
    if path is None:
        return queryset.none()
    organizations = _organizations(request, roles)
    if callable(path):
        return path(queryset, organizations)
    return queryset.filter(**{f"{path}__in" if path else "pk__in": organizations})


def in_scope(obj: models.Model, request: HttpRequest, *, roles: Collection[Role] | None = None) -> bool:
    return scoped(type(obj)._default_manager.filter(pk=obj.pk), request, roles=roles).exists()


def is_member(request: HttpRequest) -> bool:
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or _organizations(request, None).exists())


def may_act(request: HttpRequest, roles: Collection[Role], obj: models.Model | None = None) -> bool:
    """Whether the user holds one of `roles` in the object's organization (in any, without one)."""
    if request.user.is_superuser:
        return True
    if not is_member(request):
        return False
    if obj is None or obj.pk is None:
        return _organizations(request, roles).exists()
    return in_scope(obj, request, roles=roles)


def related_choices(
    db_field: Any, request: HttpRequest, roles: Collection[Role], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Offer only the related rows the user may act on, e.g. the sites of their organizations."""
    related = db_field.related_model
    if related._meta.label_lower in ORGANIZATION_PATHS and "queryset" not in kwargs:
        kwargs["queryset"] = scoped(related._default_manager.all(), request, roles=roles)
    return kwargs


class TenantAdmin(admin.ModelAdmin):
    """A model admin showing only the user's organizations' rows; `change_roles` may change them."""

    change_roles: Collection[Role] = ROLES_MANAGING

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scoped(super().get_queryset(request), request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_member(request) and (obj is None or request.user.is_superuser or in_scope(obj, request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_act(request, self.change_roles)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_act(request, self.change_roles, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_act(request, self.change_roles, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        path = ORGANIZATION_PATHS.get(self.model._meta.label_lower)
        owner_field = path.split("__")[0] if isinstance(path, str) and path else None
        if not request.user.is_superuser and owner_field in form.base_fields:
            # Without an organization (or a site) the row would vanish from its creator's view.
            form.base_fields[owner_field].required = True
        return form

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs = related_choices(db_field, request, self.change_roles, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs = related_choices(db_field, request, self.change_roles, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TenantInline(admin.options.InlineModelAdmin):
    """An inline allowed what its parent's admin allows for the parent object."""

    def _parent_admin(self) -> admin.ModelAdmin:
        return self.admin_site._registry[self.parent_model]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_admin().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_admin().has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_admin().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs = related_choices(db_field, request, ROLES_MANAGING, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyMixin:
    """Records only services write (payments, prices, issued documents): never added or edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyMixin, TenantInline, admin.TabularInline):
    """Rows the charger reports or services write, in a table under their parent, changed elsewhere.

    Each row's columns say what it is, so Django's title line over every row is hidden (admin/csms.css)."""

    extra = 0
    can_delete = False
    classes = ["csms-rows"]

    class Media:
        css = {"all": ["admin/csms.css"]}


def related_only(field: str) -> tuple[str, type[admin.RelatedOnlyFieldListFilter]]:
    """A list filter offering only the related rows that appear in the (scoped) list."""
    return (field, admin.RelatedOnlyFieldListFilter)
