"""Payment pages and the webhook."""

from __future__ import annotations

from django.urls import path

from billing.payments import views, webhooks

urlpatterns = [
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("payment-methods/", views.payment_method_list, name="payment_methods"),
    path("payment-methods/add/", views.payment_method_add, name="payment_method_add"),
    path("payment-methods/added/", views.payment_method_return, name="payment_method_return"),
    path(
        "payment-methods/<int:method_id>/remove/", views.payment_method_remove, name="payment_method_remove"
    ),
    path(
        "payment-methods/<int:method_id>/default/",
        views.payment_method_default,
        name="payment_method_default",
    ),
]
