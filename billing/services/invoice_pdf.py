"""A document as PDF, drawn with fpdf2 (pure Python, no system libraries)."""

from __future__ import annotations

from django.utils import timezone
from fpdf import FPDF

from billing.guest_links import guest_email_for_session
from billing.models import Invoice
from stations.services.access import site_zone

# The PDF core fonts cover Latin-1 only; other characters print as "?" rather than fail.
ENCODING = "latin-1"


def _text(value: object) -> str:
    return str(value).encode(ENCODING, "replace").decode(ENCODING)


def invoice_pdf_render(invoice: Invoice) -> bytes:
    """Render the document on A4: issuer, number, customer, lines and totals."""
    pdf = FPDF(format="A4")
    # Uncompressed: a few kilobytes more, and the code stays searchable in the raw file.
    pdf.set_compression(False)
    pdf.set_title(_text(f"{invoice.get_kind_display()} {invoice.code}"))
    pdf.set_author(_text(invoice.organization.name))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(f"{invoice.get_kind_display()} {invoice.code}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for label, value in document_facts(invoice):
        pdf.cell(45, 6, _text(label))
        pdf.cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    with pdf.table(
        col_widths=(90, 25, 15, 25, 25), text_align=("LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT")
    ) as table:
        table.row(["Description", "Quantity", "Unit", "Unit price", f"Amount ({invoice.currency})"])
        for line in invoice.lines:
            table.row(
                [
                    _text(line.get("description", "")),
                    _text(line.get("quantity", "")),
                    _text(line.get("unit", "")),
                    _text(line.get("unit_price", "")),
                    _text(line.get("amount", "")),
                ]
            )
    pdf.ln(4)
    for label, amount, style in (
        ("Net", invoice.net, ""),
        ("Tax", invoice.tax, ""),
        ("Total", invoice.gross, "B"),
    ):
        pdf.set_font("Helvetica", style, 11)
        pdf.cell(155, 7, label, align="R")
        pdf.cell(0, 7, _text(f"{amount:.2f} {invoice.currency}"), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def document_facts(invoice: Invoice) -> list[tuple[str, str]]:
    """The labelled facts printed at the top of a document, in the HTML and the PDF alike.

    A session's document reads times on the clock of the site where the driver charged, as the
    portal's sessions page does; others in the configured time zone."""
    site = invoice.session.station.site if invoice.session is not None else None
    zone = site_zone(site) if site is not None else timezone.get_default_timezone()
    facts = [
        ("Issued by", invoice.organization.name),
        ("Issued", f"{timezone.localtime(invoice.issued_at, zone):%Y-%m-%d %H:%M %Z}"),
        ("Status", invoice.get_status_display()),
    ]
    if invoice.customer_organization is not None:
        facts.append(("Customer", invoice.customer_organization.name))
    if invoice.user is not None:
        facts.append(("Driver", invoice.user.email or invoice.user.get_username()))
    elif invoice.customer_organization is None and (guest := guest_email_for_session(invoice.session_id)):
        facts.append(("Customer", guest))  # paid at the charger without an account
    if invoice.credit_for is not None:
        facts.append(("Credits", invoice.credit_for.code))
    if invoice.reverses is not None:
        facts.append(("Cancels", invoice.reverses.code))
    if invoice.payment_reference:
        facts.append(("Paid by", invoice.payment_reference))
    session = invoice.session
    if session is not None:
        facts.append(("Charger", f"{session.station.identity}" + (f" at {site.name}" if site else "")))
        if session.energy_wh is not None:
            facts.append(("Energy", f"{session.energy_wh / 1000:.2f} kWh"))
    if invoice.period_start and invoice.period_end:
        start, end = (
            timezone.localtime(invoice.period_start, zone),
            timezone.localtime(invoice.period_end, zone),
        )
        facts.append(("Period", f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M %Z}"))
    return facts
