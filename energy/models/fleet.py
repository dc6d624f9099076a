"""Fleet scheduling: vehicles, what they need by when, grid prices and the plans computed."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from energy.models.fields import KW, MONEY


class FleetVehicle(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="fleet_vehicles"
    )
    name = models.CharField(max_length=100)
    id_token = models.ForeignKey(
        "accounts.IdToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fleet_vehicles",
        help_text="The card the vehicle's sessions start with; it ties a session to the vehicle.",
    )
    battery_kwh = models.DecimalField(**KW, verbose_name="battery (kWh)")
    max_kw = models.DecimalField(**KW, verbose_name="maximum charging power (kW)")
    departure_time = models.TimeField(
        null=True, blank=True, help_text="Usual departure, local time of the site. Empty: no default."
    )
    energy_needed_kwh = models.DecimalField(
        **KW, null=True, blank=True, verbose_name="energy needed (kWh)", help_text="Usual need per charge."
    )
    target_soc_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        verbose_name="target state of charge (%)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="fleet_vehicle_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ChargingNeed(models.Model):
    """What a vehicle needs by when: one per plug-in (or entered ahead by the fleet manager)."""

    vehicle = models.ForeignKey(FleetVehicle, on_delete=models.CASCADE, related_name="needs")
    session = models.ForeignKey(
        "stations.ChargingSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    departure_at = models.DateTimeField()
    energy_kwh = models.DecimalField(**KW, verbose_name="energy (kWh)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["departure_at"]

    def __str__(self) -> str:
        return f"{self.vehicle}: {self.energy_kwh} kWh by {self.departure_at:%Y-%m-%d %H:%M}"


class FleetPlanStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SENT = "sent", "Sent to the chargers"
    PARTIAL = "partial", "Partly sent"
    INFEASIBLE = "infeasible", "Not every need can be met"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded"


class FleetPlanRecord(models.Model):
    """A fleet plan as computed: charging periods per vehicle, its cost and the saving against
    charging at once."""

    site = models.ForeignKey("stations.Site", on_delete=models.CASCADE, related_name="fleet_plans")
    computed_at = models.DateTimeField()
    cost = models.DecimalField(**MONEY)
    cost_immediate = models.DecimalField(**MONEY, help_text="The cost of charging every vehicle at once.")
    saving = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    plan = models.JSONField(default=dict, help_text="Periods per vehicle / load: start, end, amps or kW.")
    status = models.CharField(max_length=16, choices=FleetPlanStatus.choices, default=FleetPlanStatus.PLANNED)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["site", "computed_at"], name="fleet_plan_site_at")]

    def __str__(self) -> str:
        return f"Plan for {self.site} at {self.computed_at:%Y-%m-%d %H:%M}"


class GridPrice(models.Model):
    """A price of grid energy for a period, on top of the site's tariff (e.g. a day-ahead price)."""

    site = models.ForeignKey(
        "stations.Site",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="grid_prices",
        help_text="Empty: every site.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    price_per_kwh = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["site", "starts_at"], name="grid_price_site_start")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="grid_price_period",
                violation_error_message="The period must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.price_per_kwh} {self.currency}/kWh from {self.starts_at:%Y-%m-%d %H:%M}"
