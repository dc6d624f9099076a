"""Configuration profiles: what chargers reported, what they should hold, what applying did, and the
health checks' runs."""

from __future__ import annotations

from django.db import models


class ConfigurationSnapshot(models.Model):
    """A charger's whole configuration as it reported it at one time.

    Keys are 1.6 configuration keys, or 2.0.1 "Component[.instance]/Variable[.instance]" (with
    "@evse[.connector]" after the component for an EVSE's variables), Actual attribute only."""

    station = models.ForeignKey(
        "stations.Station", on_delete=models.CASCADE, related_name="configuration_snapshots"
    )
    taken_at = models.DateTimeField(db_index=True)
    values = models.JSONField(default=dict, help_text="Key -> value as reported.")
    read_only = models.JSONField(default=list, help_text="Keys the charger reports as read-only.")
    requested_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        get_latest_by = "taken_at"

    def __str__(self) -> str:
        return f"{self.station} at {self.taken_at:%Y-%m-%d %H:%M}"


class ConfigurationProfile(models.Model):
    """The configuration chargers of one vendor and model (blank: any) should hold."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="configuration_profiles"
    )
    name = models.CharField(max_length=100)
    vendor = models.CharField(max_length=50, blank=True, help_text="Empty: any vendor.")
    model = models.CharField(max_length=50, blank=True, help_text="Empty: any model.")
    site = models.ForeignKey(
        "stations.Site",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="configuration_profiles",
        help_text="Empty: every site of the organization.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="configuration_profile_name")
        ]

    def __str__(self) -> str:
        return self.name


class ProfileEntry(models.Model):
    """One key and the value it should hold."""

    profile = models.ForeignKey(ConfigurationProfile, on_delete=models.CASCADE, related_name="entries")
    key = models.CharField(
        max_length=120,
        help_text="A 1.6 key (HeartbeatInterval) or a 2.0.1 Component/Variable"
        " (OCPPCommCtrlr/HeartbeatInterval); 1.6 keys are matched to the 2.0.1 variable that replaced them.",
    )
    value = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "profile entries"
        ordering = ["profile", "key"]
        constraints = [models.UniqueConstraint(fields=["profile", "key"], name="profile_entry_key")]

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"


class ApplicationState(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class ProfileApplication(models.Model):
    """Applying a profile to the chargers chosen: one row per charger and key in `results`."""

    profile = models.ForeignKey(ConfigurationProfile, on_delete=models.CASCADE, related_name="applications")
    stations = models.ManyToManyField("stations.Station", related_name="+", help_text="The chargers chosen.")
    state = models.CharField(
        max_length=16, choices=ApplicationState.choices, default=ApplicationState.RUNNING
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    error = models.CharField(max_length=300, blank=True, help_text="Why it failed, if it did.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.profile} at {self.started_at:%Y-%m-%d %H:%M}"


class ApplyStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    REBOOT_REQUIRED = "RebootRequired"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"
    UNKNOWN_COMPONENT = "UnknownComponent"
    UNKNOWN_VARIABLE = "UnknownVariable"
    NOT_SUPPORTED_ATTRIBUTE = "NotSupportedAttributeType"
    OFFLINE = "Offline"
    ERROR = "Error", "Error (no answer, timeout or CallError)"


class ProfileApplicationResult(models.Model):
    application = models.ForeignKey(ProfileApplication, on_delete=models.CASCADE, related_name="results")
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=120)
    value = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=32, choices=ApplyStatus.choices)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["application", "station", "key"]

    def __str__(self) -> str:
        return f"{self.station} {self.key}: {self.status}"


class FirmwareStandard(models.Model):
    """The lowest firmware version chargers of a vendor and model should run, for a site or organization."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="firmware_standards"
    )
    site = models.ForeignKey(
        "stations.Site",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="firmware_standards",
        help_text="Empty: every site of the organization; a site's own standard wins.",
    )
    vendor = models.CharField(max_length=50, blank=True, help_text="Empty: any vendor.")
    model = models.CharField(max_length=50, blank=True, help_text="Empty: any model.")
    minimum_version = models.CharField(max_length=50)

    class Meta:
        ordering = ["organization", "site", "vendor", "model"]

    def __str__(self) -> str:
        return f"{self.vendor or 'any'} {self.model or 'any'} >= {self.minimum_version}"


class HealthCheck(models.TextChoices):
    HEARTBEAT = "heartbeat", "Heartbeat interval"
    DRIFT = "drift", "Configuration drift"
    FIRMWARE = "firmware", "Firmware behind the standard"


class HealthCheckRun(models.Model):
    """One run of a health check: how many chargers it looked at and what it found."""

    check_name = models.CharField("check", max_length=16, choices=HealthCheck.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.PositiveIntegerField(default=0)
    problems = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0, help_text="Chargers that could not be checked.")
    findings = models.JSONField(default=list, help_text="One entry per charger checked.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_check_name_display()} at {self.started_at:%Y-%m-%d %H:%M}"
