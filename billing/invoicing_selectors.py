"""Read-only queries of receipts and invoices; those taking `user=` return only what the user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from accounts.models import User
from billing.domain import InvoiceKind
from billing.models import Invoice, SessionPrice
from stations.models import ChargingSession


def invoice_list_for_driver(*, user: User) -> QuerySet[Invoice]:
    """The driver's own documents, newest first."""
    return (
        Invoice.objects.filter(user=user)
        .select_related(
            "organization", "user", "customer_organization", "credit_for", "session__station__site"
        )
        .order_by("-issued_at", "-pk")
    )


@dataclass(frozen=True)
class SessionBilling:
    gross: Decimal | None
    currency: str
    invoice: Invoice | None


def session_billing_for_driver(*, user: User, session: ChargingSession) -> SessionBilling:
    """What the driver's session cost and its receipt or invoice, when they exist."""
    price = SessionPrice.objects.filter(session=session, session__id_token__owner=user).first()
    invoice = (
        invoice_list_for_driver(user=user)
        .filter(session=session, kind__in=[InvoiceKind.RECEIPT, InvoiceKind.INVOICE], credit_for__isnull=True)
        .first()
    )
    return SessionBilling(
        gross=price.gross if price else None, currency=price.currency if price else "", invoice=invoice
    )


@dataclass(frozen=True)
class RevenueRow:
    site: str
    organization: str
    currency: str
    sessions: int
    energy_kwh: Decimal
    net: Decimal
    tax: Decimal
    gross: Decimal
    credited: Decimal


REVENUE_COLUMNS = [
    "site",
    "organization",
    "currency",
    "sessions",
    "energy_kwh",
    "net",
    "tax",
    "gross",
    "credited",
]


def revenue_by_site(
    *, prices: QuerySet[SessionPrice], credit_notes: QuerySet[Invoice], start: datetime, end: datetime
) -> list[RevenueRow]:
    """Revenue and energy per site and currency of the sessions that ended in [start, end).

    `prices` and `credit_notes` are already limited to what the reader may see; credits count in
    the period they were issued."""
    cent = Decimal("0.01")
    totals = (
        prices.filter(session__stopped_at__gte=start, session__stopped_at__lt=end)
        .values("session__station__site__name", "session__station__site__organization__name", "currency")
        .annotate(
            sessions=Count("pk"),
            energy_wh=Sum("energy_wh"),
            net=Sum("net"),
            tax=Sum("tax"),
            gross=Sum("gross"),
        )
    )
    credits = {
        (row["session__station__site__name"], row["currency"]): row["gross"]
        for row in credit_notes.filter(kind=InvoiceKind.CREDIT_NOTE, issued_at__gte=start, issued_at__lt=end)
        .values("session__station__site__name", "currency")
        .annotate(gross=Sum("gross"))
    }
    rows = []
    for row in totals:
        site = row["session__station__site__name"]
        rows.append(
            RevenueRow(
                site=site or "(no site)",
                organization=row["session__station__site__organization__name"] or "",
                currency=row["currency"],
                sessions=row["sessions"],
                energy_kwh=(Decimal(row["energy_wh"] or 0) / 1000).quantize(Decimal("0.001")),
                net=row["net"].quantize(cent),
                tax=row["tax"].quantize(cent),
                gross=row["gross"].quantize(cent),
                credited=(-credits.get((site, row["currency"]), Decimal(0))).quantize(cent),
            )
        )
    return sorted(rows, key=lambda r: (r.organization, r.site, r.currency))


INVOICE_COLUMNS = [
    "code",
    "kind",
    "status",
    "organization",
    "customer",
    "issued_at",
    "currency",
    "net",
    "tax",
    "gross",
    "session",
    "credit_for",
    "emailed_at",
]


def invoice_list_issued(
    *, start: datetime, end: datetime, organization: str | None = None
) -> QuerySet[Invoice]:
    """Documents issued in [start, end), optionally by one organization (by name), oldest first."""
    invoices = Invoice.objects.filter(issued_at__gte=start, issued_at__lt=end)
    if organization is not None:
        invoices = invoices.filter(organization__name=organization)
    return invoices.select_related("organization", "user", "customer_organization", "credit_for").order_by(
        "issued_at", "pk"
    )


def invoice_data(invoice: Invoice) -> dict[str, object]:
    """One document as a flat row, for the CSV and JSON exports."""
    customer = invoice.customer_organization.name if invoice.customer_organization else ""
    return {
        "code": invoice.code,
        "kind": invoice.kind,
        "status": invoice.status,
        "organization": invoice.organization.name,
        "customer": customer or (invoice.user.email if invoice.user else ""),
        "issued_at": invoice.issued_at,
        "currency": invoice.currency,
        "net": f"{invoice.net:.2f}",
        "tax": f"{invoice.tax:.2f}",
        "gross": f"{invoice.gross:.2f}",
        "session": invoice.session_id,
        "credit_for": invoice.credit_for.code if invoice.credit_for else "",
        "emailed_at": invoice.emailed_at,
    }
