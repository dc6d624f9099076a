"""Tariffs, the priced sessions, payments through a provider, and invoices.

Money is Decimal with an ISO 4217 currency code; unit prices keep 6 decimals (sub-cent €/kWh),
amounts 4, and services round them to the currency's minor unit where the rounding rules say so.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from billing.domain import (
    InvoiceKind,
    InvoiceStatus,
    PaymentEventStatus,
    PaymentMethodKind,
    PaymentStatus,
    PriceLineKind,
)

# Any: a DecimalField's keyword arguments, spread into it.
UNIT_PRICE: dict[str, Any] = {"max_digits": 12, "decimal_places": 6}
AMOUNT: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}


class Tariff(models.Model):
    """What charging costs: any mix of energy, time, a session fee and idle fees, with tax.

    Prices are per kWh, per minute and per session, in the tariff's currency; time-of-use bands may
    replace the energy and time prices in certain hours. Every change bumps `revision`, and a priced
    session keeps the revision and a snapshot, so a later change never rewrites its price."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="tariffs"
    )
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217, e.g. EUR.")
    energy_price_per_kwh = models.DecimalField(**UNIT_PRICE, default=0)
    time_price_per_min = models.DecimalField(**UNIT_PRICE, default=0, help_text="While charging.")
    session_fee = models.DecimalField(**UNIT_PRICE, default=0)
    idle_price_per_min = models.DecimalField(
        **UNIT_PRICE,
        default=0,
        help_text="Per minute plugged in after charging stopped, past the grace period.",
    )
    idle_grace_min = models.PositiveIntegerField(default=0)
    idle_from_suspended_ev = models.BooleanField(
        "Idle from SuspendedEV",
        default=False,
        help_text="Idle time starts when the car stops taking energy (the charger reports SuspendedEV) "
        "while the session is still open, rather than when the charger ends charging.",
    )
    tax_rate_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    prices_include_tax = models.BooleanField(
        default=True, help_text="Prices are what drivers pay, tax included."
    )
    revision = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="tariff_name_unique",
                violation_error_message="This organization already has a tariff with this name.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class TariffBand(models.Model):
    """Time-of-use prices: on these weekdays, from start up to (not including) end, in the site's
    time zone; an end not after the start runs past midnight. Empty prices keep the tariff's."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="bands")
    label = models.CharField(max_length=50, blank=True, help_text="e.g. Off-peak.")
    weekdays = models.CharField(max_length=7, default="0123456", help_text="Monday 0 to Sunday 6.")
    window_start = models.TimeField()
    window_end = models.TimeField()
    energy_price_per_kwh = models.DecimalField(**UNIT_PRICE, null=True, blank=True)
    time_price_per_min = models.DecimalField(**UNIT_PRICE, null=True, blank=True)

    class Meta:
        ordering = ["tariff", "window_start"]

    def __str__(self) -> str:
        return self.label or f"{self.window_start:%H:%M}-{self.window_end:%H:%M}"


class TariffAssignment(models.Model):
    """Where and for whom a tariff applies, and when. The most specific place wins (connector, then
    charger, then site); a group's tariff wins over the one for everybody (no group)."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="assignments")
    site = models.ForeignKey(
        "stations.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="tariff_assignments"
    )
    station = models.ForeignKey(
        "stations.Station",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tariff_assignments",
        verbose_name="charger",
    )
    connector = models.ForeignKey(
        "stations.Connector",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tariff_assignments",
    )
    group = models.ForeignKey(
        "accounts.AccessGroup",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tariff_assignments",
        help_text="Empty: everybody without a group tariff here.",
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Exclusive.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tariff", "site", "station", "connector"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(site__isnull=False)
                | models.Q(station__isnull=False)
                | models.Q(connector__isnull=False),
                name="tariff_assignment_has_place",
                violation_error_message="Choose a site, a charger or a connector.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tariff} at {self.connector or self.station or self.site}"


class SessionPrice(models.Model):
    """A session's price as computed when it ended, with the tariff revision it was computed with."""

    session = models.OneToOneField("stations.ChargingSession", on_delete=models.PROTECT, related_name="price")
    tariff = models.ForeignKey(
        Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="prices"
    )
    tariff_revision = models.PositiveIntegerField(null=True, blank=True)
    tariff_snapshot = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3)
    net = models.DecimalField(**AMOUNT)
    tax = models.DecimalField(**AMOUNT)
    gross = models.DecimalField(**AMOUNT)
    energy_wh = models.BigIntegerField(default=0)
    charging_s = models.PositiveIntegerField(default=0)
    idle_s = models.PositiveIntegerField(default=0)
    priced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-priced_at"]

    def __str__(self) -> str:
        return f"{self.gross} {self.currency} for {self.session}"


class PriceLine(models.Model):
    """One line of a session's price: energy in one band, minutes, idle minutes, the session fee."""

    price = models.ForeignKey(SessionPrice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=PriceLineKind.choices)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=8)
    unit_price = models.DecimalField(**UNIT_PRICE)
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        ordering = ["price", "position"]
        constraints = [
            models.UniqueConstraint(fields=["price", "position"], name="price_line_position_unique")
        ]

    def __str__(self) -> str:
        return self.description


class BillingCustomer(models.Model):
    """A driver as the payment provider knows them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_customer"
    )
    provider = models.CharField(max_length=20, default="stripe")
    provider_customer_id = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.provider_customer_id})"


class SavedPaymentMethod(models.Model):
    """A card (or wallet) a driver saved for paying their sessions later; the provider holds it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods"
    )
    provider_payment_method_id = models.CharField(max_length=100, unique=True)
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class Payment(models.Model):
    """Money for a session (or an invoice): a hold then a capture, or a charge of a saved card."""

    session = models.ForeignKey(
        "stations.ChargingSession", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    # A driver paying at a charger without an account (no user): where their receipt goes. They reach
    # the payment by a signed link (billing/services/card_hold_guest.py), so no secret is stored.
    guest_email = models.EmailField(blank=True)
    method = models.CharField(max_length=16, choices=PaymentMethodKind.choices)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    currency = models.CharField(max_length=3)
    amount_authorized = models.DecimalField(**AMOUNT, default=0)
    amount_captured = models.DecimalField(**AMOUNT, default=0)
    amount_refunded = models.DecimalField(**AMOUNT, default=0)
    provider = models.CharField(max_length=20, default="stripe")
    # The provider's object (a Stripe PaymentIntent id); NULL until it exists.
    provider_reference = models.CharField(max_length=100, null=True, blank=True, unique=True)  # noqa: DJ001
    failure_message = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A hold authorized at a charger (card_hold): where it is for, before any session exists, and the
    # one-off id tag the charger is asked to start with, which links the session to the payment.
    station = models.ForeignKey(
        "stations.Station", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evse_id = models.PositiveSmallIntegerField(null=True, blank=True)
    id_token = models.ForeignKey(
        "accounts.IdToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start_outcome = models.CharField(max_length=200, blank=True)
    # When the session's cost reached the hold and the charger was asked to stop, and what came of it.
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    stop_outcome = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount_captured or self.amount_authorized} {self.currency}"


class PaymentEvent(models.Model):
    """A provider's webhook event, stored before it is handled, so that each is handled once."""

    provider = models.CharField(max_length=20, default="stripe")
    event_id = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=PaymentEventStatus.choices, default=PaymentEventStatus.RECEIVED
    )
    error = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class InvoiceSeries(models.Model):
    """An organization's numbering of one kind of document; numbers are taken without gaps."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="invoice_series"
    )
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices)
    prefix = models.CharField(max_length=20)
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name_plural = "invoice series"
        constraints = [models.UniqueConstraint(fields=["organization", "kind"], name="invoice_series_unique")]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.organization})"


class Invoice(models.Model):
    """An invoice or receipt for a session, a credit note for a refund, or a fleet's monthly statement."""

    series = models.ForeignKey(InvoiceSeries, on_delete=models.PROTECT, related_name="invoices")
    number = models.PositiveIntegerField()
    code = models.CharField(max_length=40, unique=True, help_text="Prefix and number, as printed.")
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="invoices"
    )
    session = models.ForeignKey(
        "stations.ChargingSession", null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    customer_organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="statements",
        help_text="The fleet billed by a monthly statement.",
    )
    credit_for = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    net = models.DecimalField(**AMOUNT)
    tax = models.DecimalField(**AMOUNT)
    gross = models.DecimalField(**AMOUNT)
    lines = models.JSONField(default=list, help_text="As issued; never recomputed.")
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # What a credit note was issued for (a provider's refund id, a staff form's token): issuing again
    # with the same key returns this document. NULL for documents issued without one.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)  # noqa: DJ001
    # A credit note whose refund failed is cancelled by a reversal: a credit note of the opposite sign
    # for the same document, pointing at the note it cancels (documents are never edited).
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(
        max_length=100, blank=True, help_text="How an invoice was paid outside the card provider."
    )

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(fields=["series", "number"], name="invoice_number_unique"),
            # One invoice (or receipt) per session and kind: re-running the task finds it.
            models.UniqueConstraint(
                fields=["session", "kind"],
                condition=models.Q(session__isnull=False, credit_for__isnull=True),
                name="invoice_once_per_session",
            ),
        ]

    def __str__(self) -> str:
        return self.code
