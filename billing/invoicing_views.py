"""A driver's receipts and invoices: the HTML page and the PDF, only their own (404 otherwise)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from billing.invoicing_selectors import invoice_list_for_driver
from billing.models import Invoice
from billing.services.invoice_pdf import document_facts
from billing.services.invoicing import invoice_pdf
from csms.http import AuthenticatedRequest


@require_safe
@login_required
def invoice_detail(request: AuthenticatedRequest, code: str) -> HttpResponse:
    """Show one of the driver's documents."""
    invoice = get_object_or_404(invoice_list_for_driver(user=request.user), code=code)
    return render(request, "billing/invoice.html", {"invoice": invoice, "facts": document_facts(invoice)})


@require_safe
@login_required
def invoice_pdf_download(request: AuthenticatedRequest, code: str) -> HttpResponse:
    """Download one of the driver's documents as PDF."""
    invoice = get_object_or_404(invoice_list_for_driver(user=request.user), code=code)
    return pdf_response(invoice)


def pdf_response(invoice: Invoice) -> HttpResponse:
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.code}.pdf"'
    return response
