"""Receipts, invoices, credit notes and monthly statements: numbered without gaps, issued once.

A document's number is taken from its series row, locked with SELECT ... FOR UPDATE, in the same
transaction that creates the document: a failed issue rolls the number back with it, so a series
has no gaps, and two issues at once queue on the row instead of taking the same number.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.domain import ROLES_MANAGING
from accounts.models import Organization, OrganizationKind
from billing.domain import InvoiceKind, InvoiceStatus, PaymentStatus
from billing.guest_selectors import guest_email_for_session
from billing.models import Invoice, InvoiceSeries, Payment, SessionPrice
from billing.services.invoice_pdf import document_facts, invoice_pdf_render
from stations.models import ChargingSession

# The default prefix of each kind's series; the organization's id keeps codes unique across them.
PREFIXES = {
    InvoiceKind.RECEIPT: "R",
    InvoiceKind.INVOICE: "INV",
    InvoiceKind.CREDIT_NOTE: "CN",
    InvoiceKind.STATEMENT: "ST",
}
NUMBER_DIGITS = 6
CENT = Decimal("0.01")


def invoice_series_next(*, organization: Organization, kind: InvoiceKind) -> tuple[InvoiceSeries, int]:
    """Take the next number of the organization's series of `kind`, creating the series if needed.

    Call it inside the transaction that creates the document: the lock on the series row is held
    until that transaction ends, and a rollback returns the number."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice_series_next must run inside the transaction that issues the document.")
    series, _ = InvoiceSeries.objects.get_or_create(
        organization=organization,
        kind=kind,
        defaults={"prefix": f"{PREFIXES[InvoiceKind(kind)]}-{organization.pk}-"},
    )
    series = InvoiceSeries.objects.select_for_update().get(pk=series.pk)
    number = series.next_number
    series.next_number = number + 1
    series.save(update_fields=["next_number"])
    return series, number


def _code(series: InvoiceSeries, number: int) -> str:
    return f"{series.prefix}{number:0{NUMBER_DIGITS}d}"


def _issue(*, organization: Organization, kind: InvoiceKind, **fields: Any) -> Invoice:
    """Create a document with the next number of its series; run inside a transaction."""
    series, number = invoice_series_next(organization=organization, kind=kind)
    invoice = Invoice(
        series=series,
        number=number,
        code=_code(series, number),
        kind=kind,
        organization=organization,
        issued_at=fields.pop("issued_at", None) or timezone.now(),
        **fields,
    )
    invoice.save(force_insert=True)
    return invoice


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _unit_price(value: Decimal) -> str:
    """At least the currency's 2 decimals, more where a price has them (0.3456 per kWh)."""
    value = value.normalize()
    return str(value) if -value.as_tuple().exponent > 2 else _money(value)


def _price_lines(price: SessionPrice) -> list[dict[str, str]]:
    return [
        {
            "description": line.description,
            "quantity": str(line.quantity.normalize()),
            "unit": line.unit,
            "unit_price": _unit_price(line.unit_price),
            "amount": _money(line.amount),
        }
        for line in price.lines.all()
    ]


def session_issuer(session: ChargingSession) -> Organization:
    """The organization that bills a session: the one operating its site."""
    site = session.station.site
    if site is None:
        raise ValidationError("The session's charger has no site, so no organization bills it.")
    return site.organization


def session_paid_by_card(session: ChargingSession) -> bool:
    return Payment.objects.filter(session=session, status=PaymentStatus.CAPTURED).exists()


def invoice_for_session(session: ChargingSession) -> Invoice | None:
    """The receipt or invoice of a session, if issued."""
    return (
        Invoice.objects.filter(
            session=session, kind__in=[InvoiceKind.RECEIPT, InvoiceKind.INVOICE], credit_for__isnull=True
        )
        .order_by("pk")
        .first()
    )


def invoice_issue_for_session(*, session_price: SessionPrice) -> Invoice:
    """Issue the session's receipt (paid by card) or invoice (on account); once per session."""
    session = (
        ChargingSession.objects.select_related("station__site__organization", "id_token__owner")
        .filter(pk=session_price.session_id)
        .get()
    )
    if (existing := invoice_for_session(session)) is not None:
        return existing
    paid = session_paid_by_card(session)
    token = session.id_token
    try:
        with transaction.atomic():
            # Serializes issues for one session: the second finds the first's document.
            SessionPrice.objects.select_for_update().filter(pk=session_price.pk).get()
            if (existing := invoice_for_session(session)) is not None:
                return existing
            invoice = _issue(
                organization=session_issuer(session),
                kind=InvoiceKind.RECEIPT if paid else InvoiceKind.INVOICE,
                session=session,
                user=token.owner if token else None,
                customer_organization=_fleet_of(session),
                period_start=session.started_at,
                period_end=session.stopped_at,
                currency=session_price.currency,
                net=session_price.net,
                tax=session_price.tax,
                gross=session_price.gross,
                lines=_price_lines(session_price),
                status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
            )
            Payment.objects.filter(
                session=session, status=PaymentStatus.CAPTURED, invoice__isnull=True
            ).update(invoice=invoice)
            return invoice
    except IntegrityError:
        # Another worker issued it between the check and the insert (the per-session constraint).
        if (existing := invoice_for_session(session)) is not None:
            return existing
        raise


def _fleet_of(session: ChargingSession) -> Organization | None:
    """The organization that answers for the session's card: the one that issued it (a fleet, a
    property's resident cards, another operator's), unless it is the site's own operator."""
    token = session.id_token
    if token is None or token.organization_id is None:
        return None
    if token.organization_id == session.station.site.organization_id:
        return None
    return token.organization


def credit_note_for_key(idempotency_key: str) -> Invoice | None:
    """The credit note issued under `idempotency_key` (a provider's refund id, a staff action's id)."""
    return (
        Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE, idempotency_key=idempotency_key)
        .order_by("pk")
        .first()
    )


def credit_note_issue(
    *, invoice: Invoice, amount: Decimal, reason: str, idempotency_key: str | None = None
) -> Invoice:
    """Credit `amount` (gross, tax included) of an invoice or receipt; never more than is left of it.

    Issued again with the same `idempotency_key`, it returns the note issued the first time."""
    if invoice.kind not in (InvoiceKind.RECEIPT, InvoiceKind.INVOICE, InvoiceKind.STATEMENT):
        raise ValidationError("Only invoices, receipts and statements can be credited.")
    amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    if amount <= 0:
        raise ValidationError("The amount to credit must be positive.")
    with transaction.atomic():
        original = Invoice.objects.select_for_update().get(pk=invoice.pk)
        # The original's lock queues a concurrent issue with the same key behind this one.
        if idempotency_key and (issued := credit_note_for_key(idempotency_key)) is not None:
            if issued.credit_for_id != original.pk:
                raise ValidationError(f"The key {idempotency_key} credited another document.")
            return issued
        credited = -(original.credit_notes.aggregate(total=Sum("gross"))["total"] or Decimal(0))
        left = original.gross - credited
        if amount > left:
            raise ValidationError(
                f"Only {_money(left)} {original.currency} of {original.code} is left to credit."
            )
        tax = (amount * original.tax / original.gross).quantize(CENT, rounding=ROUND_HALF_UP)
        # Amounts of a credit note are negative: sums over documents give what was billed.
        return _issue(
            organization=original.organization,
            kind=InvoiceKind.CREDIT_NOTE,
            session=original.session,
            user=original.user,
            customer_organization=original.customer_organization,
            credit_for=original,
            currency=original.currency,
            net=-(amount - tax),
            tax=-tax,
            gross=-amount,
            lines=[
                {
                    "description": f"Credit for {original.code}: {reason}",
                    "quantity": "1",
                    "unit": "",
                    "unit_price": _money(-amount),
                    "amount": _money(-amount),
                }
            ],
            status=InvoiceStatus.OPEN,
            idempotency_key=idempotency_key or None,
        )


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
                _issue(
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
        "amount": _money(price.gross),
    }


def invoice_pdf(invoice: Invoice) -> bytes:
    """The document as PDF."""
    return invoice_pdf_render(invoice)


def invoice_recipients(invoice: Invoice) -> list[str]:
    """Who gets the document: the driver, or for a fleet's statement its owners and managers."""
    if invoice.user is not None and invoice.user.email:
        return [invoice.user.email]
    if invoice.user is None and (guest_email := guest_email_for_session(invoice.session_id)):
        return [guest_email]  # paid at the charger without an account
    if invoice.kind == InvoiceKind.STATEMENT and invoice.customer_organization is not None:
        members = invoice.customer_organization.memberships.filter(role__in=list(ROLES_MANAGING))
        return sorted({m.user.email for m in members.select_related("user") if m.user.email})
    return []


def invoice_email(invoice: Invoice, *, resend: bool = False) -> bool:
    """Mail the document (HTML, text and the PDF attached) once; `resend` mails it again.

    Returns whether a mail went out. The row stays locked while mailing, so two workers do not
    both send it; a crash after sending and before the commit can send it twice, never zero times."""
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("organization", "user", "customer_organization", "credit_for")
            .get(pk=invoice.pk)
        )
        if invoice.emailed_at is not None and not resend:
            return False
        recipients = invoice_recipients(invoice)
        if not recipients:
            return False
        context = {"invoice": invoice, "facts": document_facts(invoice)}
        subject = f"{invoice.get_kind_display()} {invoice.code} from {invoice.organization.name}"
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("billing/email/invoice.txt", context),
            to=recipients,
        )
        message.attach_alternative(render_to_string("billing/email/invoice.html", context), "text/html")
        message.attach(f"{invoice.code}.pdf", invoice_pdf(invoice), "application/pdf")
        message.send()
        invoice.emailed_at = timezone.now()
        invoice.save(update_fields=["emailed_at"])
        return True
