"""Billing's pages: the drivers' payment methods and receipts, and the payment provider's webhook."""

from __future__ import annotations

from django.urls import include, path

app_name = "billing"

urlpatterns = [
    path("", include("billing.payments.urls")),
    path("", include("billing.invoicing_urls")),
]
