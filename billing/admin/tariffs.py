"""The admin of tariffs (with their bands and where they apply) and of priced sessions, read-only."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from billing.models import PriceLine, SessionPrice, Tariff, TariffAssignment, TariffBand
from billing.services.tariffs import tariff_revision_bump
from csms.tenancy_admin import ReadOnlyInline, ReadOnlyMixin, TenantAdmin, TenantInline, related_only
from stations.admin.display import CSS
from stations.admin.forms import WeekdaysForm


class TariffBandForm(WeekdaysForm):
    class Meta:
        model = TariffBand
        fields = [
            "label",
            "weekdays",
            "window_start",
            "window_end",
            "energy_price_per_kwh",
            "time_price_per_min",
        ]


class TariffBandInline(TenantInline, admin.TabularInline):
    model = TariffBand
    form = TariffBandForm
    extra = 0
    verbose_name_plural = "time-of-use bands (site time; an end not after the start runs past midnight)"


class TariffAssignmentForm(forms.ModelForm):
    class Meta:
        model = TariffAssignment
        fields = ["site", "station", "connector", "group", "valid_from", "valid_until"]

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # a ModelForm returns its cleaned_data
        places = [cleaned.get(name) for name in ("site", "station", "connector")]
        if sum(place is not None for place in places) != 1:
            raise forms.ValidationError("Choose one place: a site, a charger or a connector.")
        start, end = cleaned.get("valid_from"), cleaned.get("valid_until")
        if start is not None and end is not None and end <= start:
            raise forms.ValidationError("The end of validity must come after its start.")
        return cleaned


class TariffAssignmentInline(TenantInline, admin.TabularInline):
    model = TariffAssignment
    form = TariffAssignmentForm
    extra = 0
    verbose_name_plural = "where it applies (connector over charger over site; a group over everybody)"

    def get_formset(self, request: HttpRequest, obj: Tariff | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        # Places and groups of the tariff's organization only; a new tariff first needs saving.
        org = obj.organization_id if obj else None
        fields = formset.form.base_fields
        for name, path in (
            ("site", "organization_id"),
            ("station", "site__organization_id"),
            ("connector", "station__site__organization_id"),
            ("group", "organization_id"),
        ):
            field = cast(forms.ModelChoiceField, fields[name])
            assert field.queryset is not None  # a foreign key's form field has its model's
            field.queryset = field.queryset.filter(**{path: org}) if org else field.queryset.none()
        cast(forms.ModelChoiceField, fields["group"]).empty_label = "Everybody"
        return formset


@admin.register(Tariff)
class TariffAdmin(TenantAdmin):
    list_display = [
        "name",
        "organization",
        "currency",
        "energy_price_per_kwh",
        "time_price_per_min",
        "session_fee",
        "idle_price_per_min",
        "revision",
    ]
    list_filter = [related_only("organization"), "currency"]
    search_fields = ["name"]
    readonly_fields = ["revision", "updated_at"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "currency", "revision", "updated_at"]}),
        (
            "Prices",
            {
                "fields": [
                    "energy_price_per_kwh",
                    "time_price_per_min",
                    "session_fee",
                    ("idle_price_per_min", "idle_grace_min", "idle_from_suspended_ev"),
                    ("tax_rate_percent", "prices_include_tax"),
                ]
            },
        ),
    ]
    inlines = [TariffBandInline, TariffAssignmentInline]

    class Media:
        css = CSS

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        bands_changed = any(fs.has_changed() for fs in formsets if fs.model is TariffBand)
        if change and (form.has_changed() or bands_changed):
            tariff_revision_bump(tariff=form.instance)


class PriceLineInline(ReadOnlyInline):
    model = PriceLine
    fields: ClassVar[Any] = ["position", "kind", "description", "quantity", "unit", "unit_price", "amount"]
    readonly_fields = fields


@admin.register(SessionPrice)
class SessionPriceAdmin(ReadOnlyMixin, TenantAdmin):
    """Prices are computed by the pricing service and never edited."""

    list_display = ["session", "gross", "currency", "energy_wh", "tariff", "tariff_revision", "priced_at"]
    list_filter = ["currency", related_only("tariff")]
    list_select_related = ["session__station", "tariff"]
    search_fields = ["session__station__identity", "session__id_tag"]
    fields = [
        "session",
        "tariff",
        "tariff_revision",
        "currency",
        ("net", "tax", "gross"),
        ("energy_wh", "charging_s", "idle_s"),
        "priced_at",
        "tariff_snapshot",
    ]
    readonly_fields = [
        "session",
        "tariff",
        "tariff_revision",
        "currency",
        "net",
        "tax",
        "gross",
        "energy_wh",
        "charging_s",
        "idle_s",
        "priced_at",
        "tariff_snapshot",
    ]
    inlines = [PriceLineInline]
