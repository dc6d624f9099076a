"""Receipts and invoices of sessions: numbered without gaps, issued once; documents as PDF and mail.

Credit notes are in invoicing_credit.py, fleets' statements in invoicing_statements.py, what pays an
invoice in invoicing_settle.py.

A document's number is taken from its series row, locked with SELECT ... FOR UPDATE, in the same
transaction that creates the document: a failed issue rolls the number back with it, so a series
has no gaps, and two issues at once queue on the row instead of taking the same number.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.domain import ROLES_MANAGING
from accounts.models import Organization
from billing.domain import InvoiceKind, InvoiceStatus, PaymentStatus
from billing.guest_links import guest_email_for_session, guest_session_link
from billing.models import Invoice, InvoiceSeries, Payment, SessionPrice
from billing.services.invoice_pdf import document_facts, invoice_pdf_render
from billing.services.pricing import money_round
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
# A payment in these states has the money (refunds are credited by credit notes, not here).
PAID_STATUSES = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


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


def invoice_create_numbered(*, organization: Organization, kind: InvoiceKind, **fields: Any) -> Invoice:
    """Create a document with the next number of its series; run inside the issuing transaction."""
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


def money_text(value: Decimal) -> str:
    """An amount as a document's line prints it: two decimals."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _unit_price(value: Decimal) -> str:
    """At least the currency's 2 decimals, more where a price has them (0.3456 per kWh)."""
    value = value.normalize()
    exponent = cast(int, value.as_tuple().exponent)  # an int for a finite number, as a price is
    return str(value) if -exponent > 2 else money_text(value)


def document_line(description: str, amount: Decimal) -> dict[str, str]:
    """A line of one item: a credit, what another document covers."""
    money = money_text(amount)
    return {"description": description, "quantity": "1", "unit": "", "unit_price": money, "amount": money}


def _price_lines(price: SessionPrice) -> list[dict[str, str]]:
    return [
        {
            "description": line.description,
            "quantity": str(line.quantity.normalize()),
            "unit": line.unit,
            "unit_price": _unit_price(line.unit_price),
            "amount": money_text(line.amount),
        }
        for line in price.lines.all()
    ]


def session_issuer(session: ChargingSession) -> Organization:
    """The organization that bills a session: the one operating its site."""
    site = session.station.site
    if site is None:
        raise ValidationError("The session's charger has no site, so no organization bills it.")
    if site.organization is None:
        raise ValidationError("The session's site belongs to no organization, so none bills it.")
    return site.organization


def session_paid_by_card(session: ChargingSession) -> bool:
    """Whether a card paid for the session (refunded since or not: refunds are credit notes)."""
    return Payment.objects.filter(session=session, status__in=PAID_STATUSES).exists()


def invoice_for_session(session: ChargingSession) -> Invoice | None:
    """The receipt or invoice of a session, if issued."""
    return (
        Invoice.objects.filter(
            session=session, kind__in=[InvoiceKind.RECEIPT, InvoiceKind.INVOICE], credit_for__isnull=True
        )
        .order_by("pk")
        .first()
    )


def invoice_payable_for_session(session: ChargingSession) -> Invoice | None:
    """The document a payment of the session pays: its open invoice (the rest of a split, or a
    session on account), else its receipt or invoice."""
    open_invoice = (
        Invoice.objects.filter(
            session=session, kind=InvoiceKind.INVOICE, status=InvoiceStatus.OPEN, credit_for__isnull=True
        )
        .order_by("pk")
        .first()
    )
    return open_invoice or invoice_for_session(session)


def _session_fields(session: ChargingSession, price: SessionPrice) -> dict[str, Any]:
    """What a session's receipt and invoice have in common."""
    token = session.id_token
    return {
        "organization": session_issuer(session),
        "session": session,
        "user": token.owner if token else None,
        "customer_organization": session_customer_organization(session),
        "period_start": session.started_at,
        "period_end": session.stopped_at,
        "currency": price.currency,
    }


def _session_locked(session_price: SessionPrice) -> ChargingSession:
    """Lock the session's price, which serializes issues for one session, and load the session."""
    SessionPrice.objects.select_for_update().filter(pk=session_price.pk).get()
    return (
        ChargingSession.objects.select_related("station__site__organization", "id_token__owner")
        .filter(pk=session_price.session_id)
        .get()
    )


def invoice_issue_for_session(*, session_price: SessionPrice) -> Invoice:
    """Issue the session's receipt (paid by card) or invoice (on account); once per session."""
    if (existing := invoice_for_session(session_price.session)) is not None:
        return existing
    try:
        with transaction.atomic():
            session = _session_locked(session_price)
            if (existing := invoice_for_session(session)) is not None:
                return existing  # the concurrent issue that held the lock issued it
            paid = session_paid_by_card(session)
            invoice = invoice_create_numbered(
                kind=InvoiceKind.RECEIPT if paid else InvoiceKind.INVOICE,
                net=session_price.net,
                tax=session_price.tax,
                gross=session_price.gross,
                lines=_price_lines(session_price),
                status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
                paid_at=timezone.now() if paid else None,
                **_session_fields(session, session_price),
            )
            _payments_link(session, invoice)
            return invoice
    except IntegrityError:
        # Another worker issued it between the check and the insert (the per-session constraint).
        if (existing := invoice_for_session(session_price.session)) is not None:
            return existing
        raise


def invoice_issue_split_for_session(*, session_price: SessionPrice, paid: Decimal) -> tuple[Invoice, Invoice]:
    """Issue a paid receipt for the part of the price a card hold covered and an open invoice for
    the rest (once each); tax is split in proportion, each document's lines end with what the other
    covers. Paying the invoice later closes it (invoicing_settle.py)."""
    price = session_price
    net_paid = money_round(price.net * paid / price.gross, price.currency)
    with transaction.atomic():
        session = _session_locked(price)
        common = _session_fields(session, price)
        documents = Invoice.objects.filter(session=session, credit_for__isnull=True)
        receipt = documents.filter(kind=InvoiceKind.RECEIPT).first()
        if receipt is None:
            receipt = invoice_create_numbered(
                kind=InvoiceKind.RECEIPT,
                net=net_paid,
                tax=paid - net_paid,
                gross=paid,
                lines=[*_price_lines(price), document_line("Left to pay on an invoice", paid - price.gross)],
                status=InvoiceStatus.PAID,
                paid_at=timezone.now(),
                **common,
            )
            _payments_link(session, receipt)
        invoice = documents.filter(kind=InvoiceKind.INVOICE).first()
        if invoice is None:
            invoice = invoice_create_numbered(
                kind=InvoiceKind.INVOICE,
                net=price.net - net_paid,
                tax=price.tax - (paid - net_paid),
                gross=price.gross - paid,
                lines=[
                    *_price_lines(price),
                    document_line(f"Paid by card at the charger ({receipt.code})", -paid),
                ],
                status=InvoiceStatus.OPEN,
                **common,
            )
    return receipt, invoice


def _payments_link(session: ChargingSession, document: Invoice) -> None:
    """Link the session's captured payments that wait for their document (the hold, the saved card)."""
    Payment.objects.filter(session=session, status__in=PAID_STATUSES, invoice__isnull=True).update(
        invoice=document
    )


def session_customer_organization(session: ChargingSession) -> Organization | None:
    """The organization that answers for the session's card: the one that issued it (a fleet, a
    property's resident cards, another operator's), unless it is the site's own operator."""
    token = session.id_token
    if token is None or token.organization_id is None:
        return None
    site = session.station.site
    assert site is not None  # session_issuer, called first, raises for a charger without a site
    if token.organization_id == site.organization_id:
        return None
    return token.organization


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
        context = {
            "invoice": invoice,
            "facts": document_facts(invoice),
            # Signed once: each signing carries the second it was made, and both parts show the same link.
            "guest_url": guest_session_link(invoice.session_id),
        }
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
