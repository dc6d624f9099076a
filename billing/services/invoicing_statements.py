"""Fleets' monthly statements: the sessions a fleet's cards ended in a period, one statement per
operating organization and currency, issued once per period."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, OrganizationKind
from billing.domain import InvoiceKind, InvoiceStatus
from billing.models import Invoice, SessionPrice
from billing.services.invoicing import invoice_create_numbered, money_text, session_issuer


def statement_issue(
    *, organization: Organization, period_start: datetime, period_end: datetime
) -> list[Invoice]:
    """Issue a fleet's statements of the sessions its cards ended in [period_start, period_end).

    One statement per operating organization and currency; issuing a period again returns the
    statements already issued for it."""
    if organization.kind != OrganizationKind.FLEET:
        raise ValidationError("Statements are for fleet accounts.")
    if period_end <= period_start:
        raise ValidationError("The period must end after it starts.")
    with transaction.atomic():
        # Serializes statement runs for one fleet: the second finds the first's statements.
        Organization.objects.select_for_update().filter(pk=organization.pk).get()
        issued = list(
            Invoice.objects.filter(
                kind=InvoiceKind.STATEMENT,
                customer_organization=organization,
                period_start=period_start,
                period_end=period_end,
            ).order_by("pk")
        )
        if issued:
            return issued
        prices = (
            SessionPrice.objects.filter(
                session__id_token__organization=organization,
                session__stopped_at__gte=period_start,
                session__stopped_at__lt=period_end,
            )
            .select_related("session__station__site__organization")
            .order_by("session__stopped_at", "session__pk")
        )
        groups: dict[tuple[int, str], list[SessionPrice]] = defaultdict(list)
        for price in prices:
            groups[(session_issuer(price.session).pk, price.currency)].append(price)
        statements = []
        for (issuer_id, currency), group in sorted(groups.items()):
            invoices = {
                invoice.session_id: invoice.code
                for invoice in Invoice.objects.filter(
                    session__in=[price.session for price in group],
                    kind__in=[InvoiceKind.RECEIPT, InvoiceKind.INVOICE],
                )
            }
            statements.append(
                invoice_create_numbered(
                    organization=Organization.objects.get(pk=issuer_id),
                    kind=InvoiceKind.STATEMENT,
                    customer_organization=organization,
                    period_start=period_start,
                    period_end=period_end,
                    currency=currency,
                    net=sum((price.net for price in group), Decimal(0)),
                    tax=sum((price.tax for price in group), Decimal(0)),
                    gross=sum((price.gross for price in group), Decimal(0)),
                    lines=[_statement_line(price, invoices.get(price.session_id, "")) for price in group],
                    status=InvoiceStatus.OPEN,
                )
            )
        return statements


def _statement_line(price: SessionPrice, invoice_code: str) -> dict[str, str]:
    session = price.session
    stopped = timezone.localtime(session.stopped_at) if session.stopped_at else None
    where = session.station.site.name if session.station.site else session.station.identity
    card = session.id_tag or (session.id_token.id_tag if session.id_token else "")
    return {
        "description": f"{stopped:%Y-%m-%d %H:%M} {where}, card {card}"
        + (f", {invoice_code}" if invoice_code else ""),
        "quantity": str((Decimal(price.energy_wh) / 1000).quantize(Decimal("0.001"))),
        "unit": "kWh",
        "unit_price": "",
        "amount": money_text(price.gross),
    }
