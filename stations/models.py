from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from stations.domain import AccessPolicy, CallStatus, ConnectorStatus, RegistrationStatus, StopReason

# The identity is the last URL path segment; OCPP 1.6 limits chargeBoxIdentity to 48 characters.
identity_validator = RegexValidator(
    r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$", "Letters, digits and *-_=:+|@. only, at most 48 characters."
)


class Site(models.Model):
    name = models.CharField(max_length=200, unique=True)
    address = models.CharField(max_length=300, blank=True)
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sites",
        help_text="Who runs the site; its staff see and manage it. Empty: only superusers.",
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="Access hours are in this zone, e.g. Europe/Berlin."
    )
    access_policy = models.CharField(
        max_length=16, choices=AccessPolicy.choices, default=AccessPolicy.OPEN, verbose_name="who may charge"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                {"time_zone": f"{self.time_zone!r} is not a time zone name such as Europe/Berlin."}
            ) from None


class Station(models.Model):
    """A charger (OCPP charge point / charging station), known by the identity in its URL."""

    identity = models.CharField(max_length=48, unique=True, validators=[identity_validator])
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="stations")
    password_hash = models.CharField(max_length=160, blank=True, editable=False)
    registration_status = models.CharField(
        max_length=16, choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED
    )
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField(max_length=20, blank=True)
    imsi = models.CharField(max_length=20, blank=True)
    meter_type = models.CharField(max_length=50, blank=True)
    meter_serial_number = models.CharField(max_length=50, blank=True)
    protocol = models.CharField(
        max_length=16, blank=True, help_text="Subprotocol negotiated at the last connection."
    )
    is_online = models.BooleanField(default=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_boot_at = models.DateTimeField(null=True, blank=True)
    heartbeat_interval_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the CSMS default."
    )
    # Whole-charger status (1.6 connectorId 0).
    status = models.CharField(max_length=16, choices=ConnectorStatus.choices, default=ConnectorStatus.UNKNOWN)
    error_code = models.CharField(max_length=50, blank=True)
    diagnostics_status = models.CharField(max_length=32, blank=True)
    firmware_status = models.CharField(max_length=32, blank=True)
    # The local authorization list as the charger last accepted it (SendLocalList); 0: never sent.
    local_list_version = models.PositiveIntegerField(default=0)
    local_list_synced_at = models.DateTimeField(null=True, blank=True)
    local_list_error = models.CharField(max_length=200, blank=True)
    # The channel-layer name of the consumer holding the socket; commands are routed to it.
    channel_name = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "charger"
        ordering = ["identity"]
        indexes = [models.Index(fields=["is_online", "last_seen_at"], name="station_online_seen")]

    def __str__(self) -> str:
        return self.identity


class Connector(models.Model):
    """A plug. 1.6 connector N is EVSE N, connector 1; 2.0.1 reports both numbers."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="connectors")
    evse_id = models.PositiveSmallIntegerField()
    connector_id = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=ConnectorStatus.choices, default=ConnectorStatus.UNKNOWN)
    error_code = models.CharField(max_length=50, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    status_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["station", "evse_id", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "evse_id", "connector_id"], name="connector_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.station.identity} #{self.evse_id}" + (
            f"/{self.connector_id}" if self.connector_id != 1 else ""
        )


class StatusChange(models.Model):
    """History of reported statuses, with the charger's own timestamp."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="status_changes")
    connector = models.ForeignKey(Connector, null=True, blank=True, on_delete=models.CASCADE)
    status = models.CharField(max_length=16, choices=ConnectorStatus.choices)
    error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["station", "occurred_at"], name="status_station_time")]

    def __str__(self) -> str:
        return f"{self.station_id} {self.status} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class AccessRule(models.Model):
    """Who may charge at a site (or one of its chargers), on which days, in which hours, for how long.

    At a site whose policy is restricted, a card may charge when at least one rule lets it; the
    most generous of those rules sets the session's limit."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="access_rules")
    station = models.ForeignKey(
        Station,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_rules",
        verbose_name="charger",
        help_text="Empty: every charger of the site.",
    )
    group = models.ForeignKey(
        "accounts.AccessGroup",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rules",
        help_text="Empty: the public, that is any accepted card.",
    )
    weekdays = models.CharField(
        max_length=7, default="0123456", help_text="Days the window opens on, Monday 0 to Sunday 6."
    )
    window_start = models.TimeField(null=True, blank=True, help_text="Empty with the end: all day.")
    window_end = models.TimeField(
        null=True, blank=True, help_text="Exclusive; earlier than the start: the window runs past midnight."
    )
    max_duration_min = models.PositiveIntegerField(
        null=True, blank=True, verbose_name="maximum minutes", help_text="Empty: no limit."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "station", "group"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_start__isnull=True, window_end__isnull=True)
                | models.Q(window_start__isnull=False, window_end__isnull=False),
                name="access_rule_window_whole",
                violation_error_message="Give both ends of the time window, or neither.",
            )
        ]

    def __str__(self) -> str:
        who = self.group.name if self.group is not None else "Public"
        return f"{who} at {self.station or self.site}"

    def clean(self) -> None:
        if self.station is not None and self.station.site_id != self.site_id:
            raise ValidationError({"station": "This charger is not at this site."})
        if self.group is not None and self.site_id is not None:
            if self.group.organization_id != self.site.organization_id:
                raise ValidationError({"group": "The group belongs to another organization than the site."})


class LocalListEntry(models.Model):
    """A card on a charger's local authorization list, as the charger last accepted it."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="local_list")
    id_tag = models.CharField(max_length=36)
    status = models.CharField(max_length=16)
    expires_at = models.DateTimeField(null=True, blank=True)
    parent_id_tag = models.CharField(max_length=36, blank=True)

    class Meta:
        verbose_name_plural = "local list entries"
        ordering = ["station", "id_tag"]
        constraints = [models.UniqueConstraint(fields=["station", "id_tag"], name="local_list_entry_unique")]

    def __str__(self) -> str:
        return f"{self.id_tag} on {self.station_id}"


class ChargingSessionQuerySet(models.QuerySet["ChargingSession"]):
    def open(self) -> ChargingSessionQuerySet:
        return self.filter(stopped_at__isnull=True, started_at__isnull=False)

    def running(self) -> ChargingSessionQuerySet:
        """Open sessions but those a charger left open when it rebooted (server clock on both sides): its
        StopTransaction may still come from its queue, so they stay open, but nothing runs on them."""
        return self.open().exclude(station__last_boot_at__gt=models.F("created_at"))


class ChargingSession(models.Model):
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="sessions")
    connector = models.ForeignKey(Connector, null=True, blank=True, on_delete=models.PROTECT)
    id_token = models.ForeignKey(
        "accounts.IdToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    id_tag = models.CharField(max_length=36, blank=True, help_text="As presented at the charger.")
    # The charger's transaction id as it is sent on the wire: ours (the primary key) for 1.6,
    # the charger's own string for 2.0.1.
    # NULL, not "", for a stop without a known session: the unique constraint ignores NULLs.
    external_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    authorization_status = models.CharField(max_length=16, blank=True)
    reservation_id = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.BigIntegerField(null=True, blank=True)
    meter_last_wh = models.BigIntegerField(null=True, blank=True)
    meter_stop_wh = models.BigIntegerField(null=True, blank=True)
    energy_wh = models.BigIntegerField(null=True, blank=True)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices, blank=True)
    stop_id_tag = models.CharField(max_length=36, blank=True)
    anomaly = models.CharField(
        max_length=200, blank=True, help_text="What was odd about this session's messages."
    )
    # Set when an access rule limits the session; a periodic job stops it remotely past this time.
    allowed_until = models.DateTimeField(null=True, blank=True)
    limit = models.CharField(max_length=200, blank=True, help_text="The access rule's limit, in words.")
    limit_stop_requested_at = models.DateTimeField(null=True, blank=True)
    limit_stop_outcome = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ChargingSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["station", "external_id"], name="session_external_id_unique"),
            # A charger that repeats a StartTransaction whose answer it lost sends the same fields again.
            models.UniqueConstraint(
                fields=["connector", "started_at", "meter_start_wh"], name="session_start_once"
            ),
        ]
        indexes = [models.Index(fields=["station", "started_at"], name="session_station_start")]

    def __str__(self) -> str:
        return f"{self.station.identity} tx {self.external_id or self.pk}"

    @property
    def live_energy_wh(self) -> int | None:
        """Energy so far: final after the stop, else from the last meter reading."""
        if self.energy_wh is not None:
            return self.energy_wh
        if self.meter_start_wh is not None and self.meter_last_wh is not None:
            return max(self.meter_last_wh - self.meter_start_wh, 0)
        return None

    @property
    def left_open_by_reboot(self) -> bool:
        """Open, but begun before its charger's last boot: one that running() leaves out."""
        last_boot = self.station.last_boot_at
        return (
            self.stopped_at is None
            and self.started_at is not None
            and last_boot is not None
            and last_boot > self.created_at
        )


class MeterSample(models.Model):
    """One sampled value. Written in bulk, one INSERT per MeterValues message; kept narrow because
    there are millions. The unique key makes a repeated MeterValues message add nothing, and serves
    reading a charger's curve; the other index serves a session's."""

    id = models.BigAutoField(primary_key=True)
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+", db_index=False)
    session = models.ForeignKey(
        ChargingSession,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="samples",
        db_index=False,
    )
    evse_id = models.PositiveSmallIntegerField(default=0)
    sampled_at = models.DateTimeField()
    measurand = models.CharField(max_length=48)
    phase = models.CharField(max_length=8, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    context = models.CharField(max_length=32, blank=True)
    location = models.CharField(max_length=16, blank=True)
    value = models.DecimalField(max_digits=24, decimal_places=6)

    class Meta:
        ordering = ["sampled_at"]
        indexes = [models.Index(fields=["session", "sampled_at"], name="sample_session_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "sampled_at", "evse_id", "measurand", "phase", "location", "context"],
                name="sample_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.measurand} {self.phase} {self.value} {self.unit} at {self.sampled_at:%H:%M:%S}"


class Direction(models.TextChoices):
    IN = "in", "Charger → CSMS"
    OUT = "out", "CSMS → charger"


class Frame(models.Model):
    """The journal: every OCPP frame in and out, as text, pruned after the retention period."""

    id = models.BigAutoField(primary_key=True)
    identity = models.CharField(max_length=48)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(null=True, help_text="2 CALL, 3 CALLRESULT, 4 CALLERROR")
    unique_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, blank=True)
    text = models.TextField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "OCPP frame"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["identity", "created_at"], name="frame_identity_time")]

    def __str__(self) -> str:
        return f"{self.identity} {self.direction} {self.action or self.message_type} {self.unique_id}"


class OutgoingCall(models.Model):
    """A CSMS-initiated call and its outcome."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="calls")
    unique_id = models.CharField(max_length=36, unique=True)
    action = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.PENDING)
    response = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_description = models.CharField(max_length=500, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "command"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} → {self.station.identity} ({self.status})"


# What names one attribute of a station's device model.
DEVICE_VARIABLE_KEY = [
    "station",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
]


class DeviceVariable(models.Model):
    """One attribute of one variable of a station's 2.0.1 device model, as its last report gave it.

    Numbers absent from the report are 0 and names "", not NULL, so that the unique key holds."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="device_variables")
    component = models.CharField(max_length=50)
    component_instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(default=0, help_text="0: the station as a whole.")
    connector_id = models.PositiveIntegerField(default=0)
    variable = models.CharField(max_length=50)
    variable_instance = models.CharField(max_length=50, blank=True)
    attribute_type = models.CharField(max_length=8, default="Actual")
    value = models.CharField(max_length=2500, blank=True)
    mutability = models.CharField(max_length=10, blank=True)
    data_type = models.CharField(max_length=20, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    values_list = models.CharField(max_length=1000, blank=True)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["station", "component", "evse_id", "connector_id", "variable", "attribute_type"]
        constraints = [
            models.UniqueConstraint(
                fields=DEVICE_VARIABLE_KEY,
                name="device_variable_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.component}.{self.variable} ({self.attribute_type})"
