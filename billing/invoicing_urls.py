"""Receipt and invoice pages."""

from __future__ import annotations

from django.urls import path

from billing import invoicing_views

urlpatterns = [
    path("documents/<str:code>/", invoicing_views.invoice_detail, name="invoice"),
    path("documents/<str:code>/pdf", invoicing_views.invoice_pdf_download, name="invoice_pdf"),
]
