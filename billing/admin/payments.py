"""The admin of payments (read-only, scoped by organization), webhook events and saved cards (superusers)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from billing.models import BillingCustomer, Payment, PaymentEvent, SavedPaymentMethod
from csms.tenancy_admin import ReadOnlyMixin, TenantAdmin


class SuperuserOnly(ReadOnlyMixin, admin.ModelAdmin):
    """Provider records with drivers' card details and raw payloads: for superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, TenantAdmin):
    """Payments change only through the provider and its webhooks, never by hand."""

    list_display = ["pk", "created_at", "session", "payer", "method", "status", "amount_captured", "currency"]
    list_filter = ["status", "method", "created_at"]
    search_fields = ["provider_reference", "user__email", "guest_email", "session__id_tag"]
    list_select_related = ["session", "user"]
    date_hierarchy = "created_at"

    @admin.display(description="paid by", ordering="user__email")
    def payer(self, payment: Payment) -> str:
        if payment.user is not None:
            return str(payment.user)
        return f"{payment.guest_email} (guest)" if payment.guest_email else "—"


@admin.register(PaymentEvent)
class PaymentEventAdmin(SuperuserOnly):
    list_display = ["event_id", "event_type", "status", "received_at", "handled_at", "error"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "event_type"]


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(SuperuserOnly):
    list_display = [
        "user",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "is_default",
        "created_at",
        "removed_at",
    ]
    list_filter = ["brand", "is_default"]
    search_fields = ["user__email", "provider_payment_method_id", "last4"]


@admin.register(BillingCustomer)
class BillingCustomerAdmin(SuperuserOnly):
    list_display = ["user", "provider", "provider_customer_id", "created_at"]
    search_fields = ["user__email", "provider_customer_id"]
