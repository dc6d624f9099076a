"""The admin of invoices (read-only documents), their series, and the revenue and energy report."""

from __future__ import annotations

import csv
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.domain import ROLES_MANAGING
from billing.domain import InvoiceKind, InvoiceStatus
from billing.invoicing_selectors import REVENUE_COLUMNS, revenue_by_site
from billing.invoicing_views import pdf_response
from billing.models import Invoice, InvoiceSeries, SessionPrice
from billing.payments.base import PaymentError
from billing.services.invoice_pdf import document_facts
from billing.services.invoicing import invoice_email
from billing.services.invoicing_card import invoice_charge_saved_card
from billing.services.invoicing_credit import credit_note_issue
from billing.services.invoicing_settle import PAYABLE, invoice_mark_paid
from csms.tenancy_admin import ReadOnlyMixin, TenantAdmin, may_act, related_only, scoped

CSS = {"all": ["admin/csms.css"]}


class CreditNoteForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), decimal_places=2, help_text="Gross, tax included.")
    reason = forms.CharField(max_length=150)
    # Rendered once per form: submitting the same form twice (a double click, a resent POST) issues
    # one note, while a new form is a new note.
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class MarkPaidForm(forms.Form):
    reference = forms.CharField(
        max_length=100, help_text="How it was paid, as the bank statement shows it (a transfer's reference)."
    )
    paid_on = forms.DateField(
        label="Paid on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: today.",
    )


class ReportForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise ValidationError("The period ends before it starts.")
        return data


def _message(error: Exception) -> str:
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """From the start of the first day to the end of the last, in the configured time zone."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyMixin, TenantAdmin):
    """Issued by services, never edited: a credit note corrects an accounting record."""

    list_display = ["code", "kind", "organization", "customer", "issued_at", "total", "status", "emailed_at"]
    list_filter = ["kind", "status", related_only("organization")]
    search_fields = ["code", "user__email", "customer_organization__name"]
    date_hierarchy = "issued_at"
    list_select_related = ["organization", "user", "customer_organization"]
    actions = ["resend_email", "credit_note", "charge_saved_card"]
    readonly_fields = ["document_links"]
    fields = [
        "document_links",
        "code",
        "kind",
        "status",
        "organization",
        "user",
        "customer_organization",
        "session",
        "credit_for",
        "reverses",
        "issued_at",
        "period_start",
        "period_end",
        "currency",
        "net",
        "tax",
        "gross",
        "paid_at",
        "payment_reference",
        "emailed_at",
    ]

    class Media:
        css = CSS

    def has_manage_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_act(request, ROLES_MANAGING, obj)

    @admin.display(description="customer")
    def customer(self, invoice: Invoice) -> str:
        if invoice.customer_organization is not None:
            return invoice.customer_organization.name
        return invoice.user.email if invoice.user else ""

    @admin.display(description="total", ordering="gross")
    def total(self, invoice: Invoice) -> str:
        return f"{invoice.gross:.2f} {invoice.currency}"

    @admin.display(description="document")
    def document_links(self, invoice: Invoice) -> SafeString:
        links = format_html(
            '<a href="{}">View</a> · <a href="{}">PDF</a>',
            reverse("admin:billing_invoice_document", args=[invoice.pk]),
            reverse("admin:billing_invoice_pdf", args=[invoice.pk]),
        )
        if invoice.kind != InvoiceKind.CREDIT_NOTE:
            links = format_html(
                '{} · <a href="{}">Issue a credit note</a>',
                links,
                reverse("admin:billing_invoice_credit_note", args=[invoice.pk]),
            )
        if invoice.status == InvoiceStatus.OPEN and invoice.kind in PAYABLE:
            links = format_html(
                '{} · <a href="{}">Mark as paid</a>',
                links,
                reverse("admin:billing_invoice_mark_paid", args=[invoice.pk]),
            )
        return links

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("report/", view(self.report_view), name="billing_invoice_report"),
            path("<int:pk>/document/", view(self.document_view), name="billing_invoice_document"),
            path("<int:pk>/pdf/", view(self.pdf_view), name="billing_invoice_pdf"),
            path("<int:pk>/credit-note/", view(self.credit_note_view), name="billing_invoice_credit_note"),
            path("<int:pk>/mark-paid/", view(self.mark_paid_view), name="billing_invoice_mark_paid"),
            *super().get_urls(),
        ]

    def _get_visible(self, request: HttpRequest, pk: int) -> Invoice:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def document_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = self._get_visible(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": invoice,
            "title": f"{invoice.get_kind_display()} {invoice.code}",
            "invoice": invoice,
            "facts": document_facts(invoice),
        }
        return TemplateResponse(request, "admin/billing/invoice/document.html", context)

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return pdf_response(self._get_visible(request, pk))

    @admin.action(description="Resend the selected documents by email", permissions=["manage"])
    def resend_email(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        sent = sum(
            invoice_email(invoice, resend=True) for invoice in scoped(queryset, request, roles=ROLES_MANAGING)
        )
        self.message_user(request, f"{sent} document{'s' if sent != 1 else ''} sent.", messages.SUCCESS)

    @admin.action(description="Issue a credit note for the selected document…", permissions=["manage"])
    def credit_note(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one document to credit.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:billing_invoice_credit_note", args=[queryset.get().pk]))

    @admin.action(
        description="Charge the driver's saved card for the selected open invoices", permissions=["manage"]
    )
    def charge_saved_card(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        for invoice in scoped(queryset, request, roles=ROLES_MANAGING).order_by("pk"):
            try:
                payment = invoice_charge_saved_card(invoice=invoice)
            except (ValidationError, PaymentError) as error:
                self.message_user(request, f"{invoice.code}: {_message(error)}", messages.WARNING)
                continue
            invoice.refresh_from_db()
            level = messages.SUCCESS if invoice.status == InvoiceStatus.PAID else messages.WARNING
            outcome = "paid" if invoice.status == InvoiceStatus.PAID else payment.get_status_display().lower()
            detail = f" ({payment.failure_message})" if payment.failure_message else ""
            self.message_user(request, f"{invoice.code}: {outcome}{detail}.", level)

    def mark_paid_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = self._get_visible(request, pk)
        if not self.has_manage_permission(request, invoice):
            raise PermissionDenied
        form = MarkPaidForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            paid_on = form.cleaned_data["paid_on"]
            zone = ZoneInfo(settings.TIME_ZONE)
            try:
                invoice_mark_paid(
                    invoice=invoice,
                    reference=form.cleaned_data["reference"],
                    paid_at=datetime.combine(paid_on, time(12), tzinfo=zone) if paid_on else None,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"{invoice.code} marked as paid.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[invoice.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": invoice,
            "title": f"Mark {invoice.code} as paid",
            "invoice": invoice,
            "form": form,
            "action": "Mark as paid",
            "submit": "Mark as paid",
        }
        return TemplateResponse(request, "admin/billing/invoice/action_form.html", context)

    def credit_note_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = self._get_visible(request, pk)
        if not self.has_manage_permission(request, invoice):
            raise PermissionDenied
        form = CreditNoteForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                note = credit_note_issue(
                    invoice=invoice,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    idempotency_key=f"staff:{form.cleaned_data['token'].hex}",
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"Credit note {note.code} issued.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[note.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": invoice,
            "title": f"Credit note for {invoice.code}",
            "invoice": invoice,
            "form": form,
            "action": "Credit note",
            "submit": "Issue the credit note",
        }
        return TemplateResponse(request, "admin/billing/invoice/action_form.html", context)

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """Revenue and energy per site over a period, on screen or as CSV (?format=csv)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        form = ReportForm(request.GET or {"start": today.replace(day=1), "end": today})
        rows, csv_url = [], ""
        if form.is_valid():
            start, end = period_bounds(form.cleaned_data["start"], form.cleaned_data["end"])
            rows = revenue_by_site(
                prices=scoped(SessionPrice.objects.all(), request),
                credit_notes=scoped(Invoice.objects.all(), request),
                start=start,
                end=end,
            )
            if request.GET.get("format") == "csv":
                return self._report_csv(rows, form.cleaned_data["start"], form.cleaned_data["end"])
            csv_url = "?" + urlencode(
                {"start": form.cleaned_data["start"], "end": form.cleaned_data["end"], "format": "csv"}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Revenue and energy by site",
            "form": form,
            "rows": rows,
            "csv_url": csv_url,
        }
        return TemplateResponse(request, "admin/billing/invoice/report.html", context)

    @staticmethod
    def _report_csv(rows: list[Any], start: date, end: date) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="revenue-{start}-{end}.csv"'
        writer = csv.writer(response)
        writer.writerow(REVENUE_COLUMNS)
        for row in rows:
            writer.writerow([getattr(row, column) for column in REVENUE_COLUMNS])
        return response


@admin.register(InvoiceSeries)
class InvoiceSeriesAdmin(TenantAdmin):
    list_display = ["prefix", "organization", "kind", "next_number"]
    list_filter = ["kind", related_only("organization")]
    readonly_fields = ["next_number"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # numbered documents point at their series

    def get_readonly_fields(self, request: HttpRequest, obj: InvoiceSeries | None = None) -> Any:
        if obj is not None and obj.invoices.exists():
            # Codes already printed keep their prefix; a new one would look like another series.
            return ["organization", "kind", "prefix", "next_number"]
        return ["next_number"]
