"""Read-only queries of receipts and invoices; those taking `user=` return only what the user may see."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

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
