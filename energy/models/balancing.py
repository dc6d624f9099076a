"""Load balancing: what a site's grid connection and circuits can carry, how each charger is wired, what
the balancer last gave each EVSE, and the load history.

Currents are amps per phase (Decimal); powers are kW. A limit left empty means "no limit"."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from energy.models.fields import AMPS, KW


class PhaseLimits(models.Model):
    """A limit per phase: one value for all three phases, each phase optionally overridden, plus
    an optional total power limit."""

    phase_limit_amps = models.DecimalField(
        **AMPS,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        verbose_name="limit per phase (A)",
        help_text="The fuse per phase, e.g. 32 for a 32 A three-phase connection. Empty: no current limit.",
    )
    l1_limit_amps = models.DecimalField(
        **AMPS, null=True, blank=True, verbose_name="L1 limit (A)", help_text="Empty: the limit per phase."
    )
    l2_limit_amps = models.DecimalField(
        **AMPS, null=True, blank=True, verbose_name="L2 limit (A)", help_text="Empty: the limit per phase."
    )
    l3_limit_amps = models.DecimalField(
        **AMPS, null=True, blank=True, verbose_name="L3 limit (A)", help_text="Empty: the limit per phase."
    )
    power_limit_kw = models.DecimalField(
        **KW, null=True, blank=True, verbose_name="power limit (kW)", help_text="Empty: no power limit."
    )

    class Meta:
        abstract = True

    @property
    def phase_limits(self) -> tuple[Decimal, Decimal, Decimal] | None:
        """The limit on L1, L2 and L3, or None when no phase has one."""
        limits = [
            override if override is not None else self.phase_limit_amps
            for override in (self.l1_limit_amps, self.l2_limit_amps, self.l3_limit_amps)
        ]
        if all(limit is None for limit in limits):
            return None
        # A phase without a limit of its own while another has one: treat it as unlimited in practice.
        unlimited = Decimal("1e6")
        return tuple(unlimited if limit is None else limit for limit in limits)  # type: ignore[return-value]

    @property
    def power_limit_watts(self) -> Decimal | None:
        return None if self.power_limit_kw is None else self.power_limit_kw * 1000


class SiteGrid(PhaseLimits):
    """A site's grid connection and how its load balancer behaves."""

    site = models.OneToOneField("stations.Site", on_delete=models.CASCADE, related_name="grid")
    voltage = models.DecimalField(
        max_digits=5, decimal_places=1, default=Decimal("230"), help_text="Phase-to-neutral voltage (V)."
    )
    min_current_amps = models.DecimalField(
        **AMPS,
        default=Decimal("6"),
        verbose_name="minimum current (A)",
        help_text="Below this an AC car cannot charge, so it is paused instead (IEC 61851: 6 A).",
    )
    balancing_enabled = models.BooleanField(
        default=True, help_text="Share the connection among the cars charging, with charging profiles."
    )
    safe_default_amps = models.DecimalField(
        **AMPS,
        null=True,
        blank=True,
        verbose_name="safe default per charger (A)",
        help_text=(
            "The limit every charger keeps while the CSMS cannot reach it (TxDefaultProfile). "
            "Empty: the site limit divided by the number of charging points, rounded down; 0 when that is "
            "below the minimum current (the chargers then wait for the CSMS rather than trip the fuse)."
        ),
    )
    base_load_amps = models.DecimalField(
        **AMPS,
        null=True,
        blank=True,
        verbose_name="building base load (A)",
        help_text="Current per phase the building draws besides the chargers; kept free for it.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "site grid connection"

    def __str__(self) -> str:
        return f"Grid of {self.site}"

    def safe_default_for(self, chargers: int) -> Decimal:
        """The safe default current per charging point, per phase, for a site with `chargers` of them:
        an equal share of the limit, or 0 when that share could not charge a car (below the minimum), so
        that the site stays under its fuse even if every car starts while the CSMS is unreachable."""
        if self.safe_default_amps is not None:
            return self.safe_default_amps
        limits = self.phase_limits
        if limits is None or chargers <= 0:
            return self.min_current_amps
        share = Decimal(int((min(limits) - (self.base_load_amps or 0)) / chargers))
        return share if share >= self.min_current_amps else Decimal(0)


class Circuit(PhaseLimits):
    """A breaker feeding a group of chargers, under the grid connection or under another circuit."""

    site = models.ForeignKey("stations.Site", on_delete=models.CASCADE, related_name="circuits")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text="The circuit feeding this one. Empty: directly on the site's grid connection.",
    )
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["site", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="circuit_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.site})"

    def clean(self) -> None:
        if self.parent_id is not None:
            parent = cast(Circuit, self.parent)  # fetched by parent_id, never None
            if parent.site_id != self.site_id:
                raise ValidationError({"parent": "The parent circuit is at another site."})
            ancestor: Circuit | None = parent
            while ancestor is not None:
                if ancestor.pk == self.pk:
                    raise ValidationError({"parent": "A circuit cannot feed itself."})
                ancestor = ancestor.parent


class PhaseRotation(models.TextChoices):
    """OCPP 2.0.1 PhaseRotation: the grid phases the charger's L1, L2 and L3 are on (R, S, T = grid
    L1, L2, L3). A single-phase charger draws on the grid phase of its L1."""

    RST = "RST", "RST (L1 on L1)"
    RTS = "RTS", "RTS (L1 on L1)"
    SRT = "SRT", "SRT (L1 on L2)"
    STR = "STR", "STR (L1 on L2)"
    TRS = "TRS", "TRS (L1 on L3)"
    TSR = "TSR", "TSR (L1 on L3)"


class ChargerWiring(models.Model):
    """How a charger is connected: its circuit, phases, rotation, maximum and priority."""

    station = models.OneToOneField("stations.Station", on_delete=models.CASCADE, related_name="wiring")
    circuit = models.ForeignKey(
        Circuit,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chargers",
        help_text="Empty: directly on the site's grid connection.",
    )
    phases = models.PositiveSmallIntegerField(choices=[(1, "single-phase"), (3, "three-phase")], default=3)
    phase_rotation = models.CharField(max_length=3, choices=PhaseRotation.choices, default=PhaseRotation.RST)
    max_amps = models.DecimalField(
        **AMPS, default=Decimal("32"), verbose_name="maximum per phase (A)", help_text="Per EVSE."
    )
    priority = models.IntegerField(
        default=0, help_text="Higher goes first when there is not enough for everyone (e.g. fleet chargers)."
    )
    is_dc = models.BooleanField(default=False, verbose_name="DC charger")
    dc_max_kw = models.DecimalField(**KW, null=True, blank=True, verbose_name="DC maximum (kW)")

    class Meta:
        verbose_name = "charger wiring"
        verbose_name_plural = "charger wiring"
        ordering = ["station"]

    def __str__(self) -> str:
        return f"Wiring of {self.station}"

    def clean(self) -> None:
        if self.circuit_id is not None and cast(Circuit, self.circuit).site_id != self.station.site_id:
            raise ValidationError({"circuit": "The circuit is at another site than the charger."})

    @property
    def grid_phases(self) -> tuple[int, ...]:
        """The grid phases (1, 2, 3) the charger draws on, its L1 first."""
        order = tuple("RST".index(letter) + 1 for letter in self.phase_rotation)
        return order[: self.phases]


class ConnectorLimit(models.Model):
    """A connector's own maximum (a tethered cable rated lower than the charger, for instance)."""

    connector = models.OneToOneField("stations.Connector", on_delete=models.CASCADE, related_name="limit")
    max_amps = models.DecimalField(**AMPS, verbose_name="maximum per phase (A)")

    class Meta:
        ordering = ["connector"]

    def __str__(self) -> str:
        return f"{self.connector}: {self.max_amps} A"


class AllocationStatus(models.TextChoices):
    PENDING = "pending", "Sent, no answer yet"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "No answer or error"
    OFFLINE = "offline", "Charger offline"
    UNCHANGED = "unchanged", "Unchanged"


class Allocation(models.Model):
    """The current per EVSE of a charger: what the balancer wants, and what the charger last accepted.

    An EVSE with a session gets its share as a TxProfile (`applied_amps` once accepted); an idle one a
    TxDefaultProfile (`default_amps`) holding what the next car may draw before the balancer hears of
    it, so that a car starting never takes more than is free. A charger that refuses keeps its last
    accepted limit and is counted at it. The row of EVSE 0 is the charger as a whole: `amps` its
    TxDefaultProfile for EVSEs without their own, `default_amps` that as accepted, `applied_amps` the
    charger maximum (ChargePointMaxProfile / ChargingStationMaxProfile) as accepted."""

    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="allocations")
    evse_id = models.PositiveSmallIntegerField(help_text="1.6: the connector id.")
    session = models.ForeignKey(
        "stations.ChargingSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amps = models.DecimalField(**AMPS, help_text="Allocated per phase; 0: paused.")
    applied_amps = models.DecimalField(
        **AMPS, null=True, blank=True, help_text="The session limit the charger last accepted. Empty: none."
    )
    default_amps = models.DecimalField(
        **AMPS,
        null=True,
        blank=True,
        help_text="The EVSE's default limit (TxDefaultProfile) the charger last accepted. Empty: unknown.",
    )
    wanted_amps = models.DecimalField(
        **AMPS, null=True, blank=True, help_text="What the car was seen to want, when less than offered."
    )
    measured_amps = models.DecimalField(
        **AMPS, null=True, blank=True, help_text="The highest phase current last measured."
    )
    reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=16, choices=AllocationStatus.choices, default=AllocationStatus.PENDING
    )
    profile_id = models.PositiveIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    composite_limit_amps = models.DecimalField(
        **AMPS, null=True, blank=True, help_text="The limit the charger reported (GetCompositeSchedule)."
    )
    composite_checked_at = models.DateTimeField(null=True, blank=True)
    composite_mismatch = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station", "evse_id"]
        constraints = [models.UniqueConstraint(fields=["station", "evse_id"], name="allocation_unique")]

    def __str__(self) -> str:
        return f"{self.station_id} #{self.evse_id}: {self.amps} A"


class AllocationChange(models.Model):
    """History: one row per limit sent to a charger."""

    id = models.BigAutoField(primary_key=True)
    site = models.ForeignKey("stations.Site", on_delete=models.CASCADE, related_name="+")
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    evse_id = models.PositiveSmallIntegerField()
    session = models.ForeignKey(
        "stations.ChargingSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    amps_before = models.DecimalField(**AMPS, null=True, blank=True)
    amps = models.DecimalField(**AMPS)
    status = models.CharField(max_length=16, choices=AllocationStatus.choices)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["site", "at"], name="allocation_change_site_at")]

    def __str__(self) -> str:
        return f"{self.station_id} #{self.evse_id} {self.amps_before} → {self.amps} A at {self.at:%H:%M:%S}"


class SiteLoadSample(models.Model):
    """The site's load at one moment, against its limit: for the "load over time" chart."""

    id = models.BigAutoField(primary_key=True)
    site = models.ForeignKey("stations.Site", on_delete=models.CASCADE, related_name="load_samples")
    at = models.DateTimeField()
    measured_l1_amps = models.DecimalField(**AMPS, default=Decimal(0))
    measured_l2_amps = models.DecimalField(**AMPS, default=Decimal(0))
    measured_l3_amps = models.DecimalField(**AMPS, default=Decimal(0))
    allocated_l1_amps = models.DecimalField(**AMPS, default=Decimal(0))
    allocated_l2_amps = models.DecimalField(**AMPS, default=Decimal(0))
    allocated_l3_amps = models.DecimalField(**AMPS, default=Decimal(0))
    limit_amps = models.DecimalField(**AMPS, null=True, blank=True, help_text="The lowest phase limit.")
    charging = models.PositiveIntegerField(default=0, help_text="Sessions open at that moment.")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["site", "at"], name="site_load_site_at")]

    def __str__(self) -> str:
        return f"{self.site_id} at {self.at:%Y-%m-%d %H:%M:%S}"
