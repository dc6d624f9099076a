"""Payment pages and the webhook."""

from __future__ import annotations

from django.urls import path

from billing.payments import guest_views, pay_views, views, webhooks

urlpatterns = [
    path("pay/<str:identity>/<int:evse_id>/", pay_views.pay_page, name="pay"),
    path("pay/<str:identity>/<int:evse_id>/start/", pay_views.pay_start, name="pay_start"),
    path("pay/<str:identity>/<int:evse_id>/guest/", guest_views.pay_start_guest, name="pay_start_guest"),
    path("pay/<str:identity>/qr/", pay_views.station_qr_codes, name="pay_qr"),
    path("payments/<int:payment_id>/", pay_views.payment_status, name="payment_status"),
    path("payments/<int:payment_id>/return/", pay_views.payment_return, name="payment_return"),
    path("payments/<int:payment_id>/stop/", pay_views.payment_stop, name="payment_stop"),
    # A guest's payment, by its signed link (billing/services/card_hold_guest.py).
    path("guest/<str:token>/", guest_views.guest_payment, name="guest_payment"),
    path("guest/<str:token>/return/", guest_views.guest_payment_return, name="guest_payment_return"),
    path("guest/<str:token>/stop/", guest_views.guest_payment_stop, name="guest_payment_stop"),
    path("guest/<str:token>/documents/<str:code>/", guest_views.guest_document, name="guest_document"),
    path(
        "guest/<str:token>/documents/<str:code>/pdf",
        guest_views.guest_document_pdf,
        name="guest_document_pdf",
    ),
    path("payments/<int:payment_id>/authenticate/", views.payment_authenticate, name="payment_authenticate"),
    path(
        "payments/<int:payment_id>/authenticated/",
        views.payment_authenticated,
        name="payment_authenticated",
    ),
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
