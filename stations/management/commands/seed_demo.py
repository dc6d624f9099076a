"""Create the demo data `make run` shows a newcomer; running it again changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import IdToken, IdTokenStatus, User
from stations.credentials import password_hash
from stations.models import Site, Station

DEMO_PASSWORD = "demo-charger-password"
DEMO_LOGIN = ("admin", "admin")


class Command(BaseCommand):
    help = "Create a demo site, three chargers (DEMO-001..003), RFID tokens and the admin/admin login."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        site, _ = Site.objects.get_or_create(name="Riverside Parking", defaults={"address": "1 River Road"})
        for number in range(1, 4):
            Station.objects.get_or_create(
                identity=f"DEMO-{number:03d}",
                defaults={"site": site, "password_hash": password_hash(DEMO_PASSWORD.encode())},
            )
        username, password = DEMO_LOGIN
        if not User.objects.filter(username=username).exists():
            User.objects.create_superuser(username, f"{username}@example.com", password)
        tokens = [
            ("DEMO-TAG-1", IdTokenStatus.ACCEPTED),
            ("DEMO-TAG-2", IdTokenStatus.ACCEPTED),
            ("DEMO-BLOCKED", IdTokenStatus.BLOCKED),
        ]
        for id_tag, status in tokens:
            IdToken.objects.get_or_create(id_tag=id_tag, defaults={"status": status, "label": "Demo card"})
        self.stdout.write(
            "Demo data ready. Admin: http://127.0.0.1:8000/admin/ (login admin / admin). "
            f"Chargers DEMO-001..003 connect with password {DEMO_PASSWORD!r}."
        )
