"""Create the demo data `make run` shows a newcomer; running it again changes nothing.

It lives in billing, the app that depends on all others, because the demo spans them all."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.domain import Role
from accounts.models import (
    AccessGroup,
    AccessGroupMember,
    IdToken,
    IdTokenStatus,
    Membership,
    Organization,
    OrganizationKind,
    User,
)
from billing.models import Tariff, TariffAssignment, TariffBand
from energy.models import ChargerWiring, FleetVehicle, SiteGrid
from stations.configuration.models import ConfigurationProfile, FirmwareStandard, ProfileEntry
from stations.credentials import password_hash
from stations.domain import AccessPolicy
from stations.firmware.models import FirmwareCampaign, FirmwareFile
from stations.firmware.services import firmware_file_record
from stations.models import AccessRule, Site, Station
from stations.simulator.dialects import MODEL, VENDOR
from stations.simulator.firmware import image_bytes

DEMO_PASSWORD = "demo-charger-password"
DEMO_LOGIN = ("admin", "admin")
DEMO_MANAGER = ("manager", "manager")
DEMO_DRIVER = ("driver@example.com", "driver")
# Public sessions at the demo site end after this long: the simulator charges for 4 minutes, so the
# limit job can be watched stopping them.
DEMO_PUBLIC_MINUTES = 3
# Riverside Parking's grid connection, per phase: less than its chargers could draw together.
DEMO_GRID_AMPS = 32
# The firmware the simulated chargers should run (they boot with 1.0.0): a campaign to start, and
# what the configuration profile expects (the simulator samples meters every 15 s under `make run`).
DEMO_FIRMWARE = "1.1.0"
DEMO_PROFILE = {"MeterValueSampleInterval": "30", "ConnectionTimeOut": "90"}


class Command(BaseCommand):
    help = (
        "Create two organizations with a site each, four chargers (DEMO-001..004), residents and the "
        "public with access rules and tariffs, RFID cards, and the admin, manager and driver logins."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        riverside = self.organization("Riverside Homes", OrganizationKind.PROPERTY)
        city = self.organization("City Offices", OrganizationKind.OPERATOR)
        parking, _ = Site.objects.get_or_create(
            name="Riverside Parking",
            defaults={
                "address": "1 River Road",
                "organization": riverside,
                "access_policy": AccessPolicy.RESTRICTED,
                "time_zone": "Europe/Berlin",
            },
        )
        garage, _ = Site.objects.get_or_create(
            name="Market Street Garage",
            defaults={"address": "20 Market Street", "organization": city, "time_zone": "Europe/Berlin"},
        )
        for number in range(1, 5):
            Station.objects.get_or_create(
                identity=f"DEMO-{number:03d}",
                defaults={
                    "site": parking if number < 4 else garage,
                    "password_hash": password_hash(DEMO_PASSWORD.encode()),
                },
            )

        username, password = DEMO_LOGIN
        if not User.objects.filter(username=username).exists():
            User.objects.create_superuser(username, f"{username}@example.com", password)
        username, password = DEMO_MANAGER
        if not User.objects.filter(username=username).exists():
            manager = User.objects.create_user(username, f"{username}@example.com", password, is_staff=True)
            Membership.objects.create(user=manager, organization=riverside, role=Role.MANAGER)
        driver = self.driver(*DEMO_DRIVER)

        residents, _ = AccessGroup.objects.get_or_create(
            organization=riverside, name="Residents", defaults={"description": "Flats 1-40, River Road"}
        )
        AccessGroupMember.objects.get_or_create(group=residents, email=driver.email)
        cards = [
            ("DEMO-TAG-1", IdTokenStatus.ACCEPTED, riverside, None, "Resident card, flat 12"),
            ("DEMO-TAG-2", IdTokenStatus.ACCEPTED, city, None, "Visitor card"),
            ("DEMO-BLOCKED", IdTokenStatus.BLOCKED, riverside, None, "Reported lost"),
            ("DEMO-DRIVER-1", IdTokenStatus.ACCEPTED, None, driver, "My key fob"),
        ]
        for id_tag, status, organization, owner, label in cards:
            card, _ = IdToken.objects.get_or_create(
                id_tag=id_tag,
                defaults={"status": status, "organization": organization, "owner": owner, "label": label},
            )
            if id_tag == "DEMO-TAG-1":
                residents.id_tokens.add(card)
        if not parking.access_rules.exists():
            AccessRule.objects.create(site=parking, group=residents)
            AccessRule.objects.create(site=parking, group=None, max_duration_min=DEMO_PUBLIC_MINUTES)
        self.tariffs(riverside, parking, residents, city, garage)
        self.fleet(riverside, residents)
        self.grid(parking)
        self.operations(riverside, parking)
        self.stdout.write(
            "Demo data ready. Admin: http://127.0.0.1:8000/admin/ (superuser admin / admin; manager / "
            "manager sees Riverside Homes only). Driver portal: http://127.0.0.1:8000/ (driver@example.com "
            f"/ driver). Chargers DEMO-001..004 connect with password {DEMO_PASSWORD!r}."
        )

    def tariffs(
        self, riverside: Organization, parking: Site, residents: AccessGroup, city: Organization, garage: Site
    ) -> None:
        """Residents pay less than the public at Riverside, with cheaper nights; the garage has one price."""
        public, created = Tariff.objects.get_or_create(
            organization=riverside,
            name="Public",
            defaults={
                "energy_price_per_kwh": Decimal("0.49"),
                "session_fee": Decimal("0.50"),
                "idle_price_per_min": Decimal("0.10"),
                "idle_grace_min": 30,
                "tax_rate_percent": Decimal("19"),
            },
        )
        if created:
            TariffAssignment.objects.create(tariff=public, site=parking)
        resident, created = Tariff.objects.get_or_create(
            organization=riverside,
            name="Residents",
            defaults={"energy_price_per_kwh": Decimal("0.32"), "tax_rate_percent": Decimal("19")},
        )
        if created:
            TariffBand.objects.create(
                tariff=resident,
                label="Night",
                window_start=time(22),
                window_end=time(6),
                energy_price_per_kwh=Decimal("0.24"),
            )
            TariffAssignment.objects.create(tariff=resident, site=parking, group=residents)
        garage_tariff, created = Tariff.objects.get_or_create(
            organization=city,
            name="Garage",
            defaults={"energy_price_per_kwh": Decimal("0.45"), "tax_rate_percent": Decimal("19")},
        )
        if created:
            TariffAssignment.objects.create(tariff=garage_tariff, site=garage)

    def fleet(self, riverside: Organization, residents: AccessGroup) -> None:
        """A van of the property's own fleet, charged off-peak on the residents' night price."""
        card, _ = IdToken.objects.get_or_create(
            id_tag="DEMO-FLEET-1", defaults={"organization": riverside, "label": "Caretaker's van"}
        )
        residents.id_tokens.add(card)
        FleetVehicle.objects.get_or_create(
            organization=riverside,
            name="Caretaker's van",
            defaults={
                "id_token": card,
                "battery_kwh": Decimal("60"),
                "max_kw": Decimal("11"),
                "departure_time": time(7),
                "energy_needed_kwh": Decimal("20"),
            },
        )

    def grid(self, parking: Site) -> None:
        """Riverside's three chargers share a 32 A connection, so two cars at once are balanced."""
        SiteGrid.objects.get_or_create(
            site=parking, defaults={"phase_limit_amps": Decimal(DEMO_GRID_AMPS), "balancing_enabled": True}
        )
        for station in parking.stations.all():
            ChargerWiring.objects.get_or_create(station=station, defaults={"max_amps": Decimal("32")})

    def operations(self, riverside: Organization, parking: Site) -> None:
        """Riverside's chargers run firmware behind the standard and meter more often than their profile
        says: the health checks open alerts, a draft campaign and the profile's Apply put it right."""
        FirmwareStandard.objects.get_or_create(
            organization=riverside, vendor=VENDOR, model=MODEL, defaults={"minimum_version": DEMO_FIRMWARE}
        )
        firmware = FirmwareFile.objects.filter(organization=riverside, version=DEMO_FIRMWARE).first()
        if firmware is None:
            firmware = FirmwareFile(organization=riverside, vendor=VENDOR, model=MODEL, version=DEMO_FIRMWARE)
            firmware.file.save(
                f"csms-sim-{DEMO_FIRMWARE}.bin", ContentFile(image_bytes(DEMO_FIRMWARE)), save=False
            )
            firmware_file_record(firmware=firmware).save()
            campaign = FirmwareCampaign.objects.create(
                organization=riverside,
                name=f"Riverside to {DEMO_FIRMWARE}",
                firmware=firmware,
                max_concurrent=1,
            )
            campaign.stations.set(parking.stations.all())
        profile, created = ConfigurationProfile.objects.get_or_create(
            organization=riverside, name="Riverside AC chargers", defaults={"vendor": VENDOR, "model": MODEL}
        )
        if created:
            ProfileEntry.objects.bulk_create(
                ProfileEntry(profile=profile, key=key, value=value) for key, value in DEMO_PROFILE.items()
            )

    def organization(self, name: str, kind: OrganizationKind) -> Organization:
        organization, _ = Organization.objects.get_or_create(name=name, defaults={"kind": kind})
        return organization

    def driver(self, email: str, password: str) -> User:
        driver = User.objects.filter(email__iexact=email).first()
        if driver is None:
            driver = User.objects.create_user(email.split("@")[0], email, password)
        EmailAddress.objects.get_or_create(
            user=driver, email=email, defaults={"verified": True, "primary": True}
        )
        return driver
