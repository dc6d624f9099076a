"""Over a real socket to a live daphne. A 1.6 charger reports its connector Faulted, then Available.
The alert opens with the charger's evidence, the site manager gets one mail, a repeated fault report
mails nobody again, and the Available closes the alert (with its closing notice). A 2.0.1 charger's
NotifyEvent and SecurityEventNotification open alerts before they are answered."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_string
from pathlib import Path

import pytest

from accounts.domain import Role
from stations.alerts.models import Alert, AlertNotification
from stations.ocpp.base import format_timestamp
from tests.alerts.conftest import frame
from tests.factories import STATION_PASSWORD, MembershipFactory, OrganizationFactory, StationFactory
from tests.ocpp_fixtures import load_payload
from tests.simulator_live import wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

MAIL_DIR = Path(__file__).resolve().parents[2] / "var" / "test-alert-mail"


def mails() -> list:  # type: ignore[type-arg]
    return [message_from_string(part) for path in sorted(MAIL_DIR.glob("*.log")) for part in _split(path)]


def _split(path: Path) -> list[str]:
    # The file backend writes each message followed by a line of 79 dashes.
    return [part.strip() for part in path.read_text().split("-" * 79) if part.strip()]


def status(charger, state: str, error_code: str = "NoError") -> None:  # type: ignore[no-untyped-def]
    at = format_timestamp(datetime.now(UTC))
    charger.result(
        "StatusNotification", {"connectorId": 1, "errorCode": error_code, "status": state, "timestamp": at}
    )


def test_a_faulted_connector_opens_an_alert_mails_the_manager_once_and_available_closes_it(gateways):
    MAIL_DIR.mkdir(parents=True, exist_ok=True)
    for old in MAIL_DIR.glob("*"):
        old.unlink()
    gateway = gateways("alerts", EMAIL_URL=f"filemail:///{MAIL_DIR}")
    organization = OrganizationFactory(name="Riverside Homes")
    station = StationFactory(site__organization=organization)
    MembershipFactory(organization=organization, role=Role.MANAGER, user__email="manager@riverside.example")

    with gateway.client(station.identity, STATION_PASSWORD) as charger:
        charger.result("BootNotification", load_payload("v16", "boot_notification"))
        status(charger, "Available")
        status(charger, "Faulted", "GroundFailure")
        assert wait_until(lambda: Alert.objects.open().filter(station=station).exists())
        status(charger, "Faulted", "GroundFailure")
        assert wait_until(lambda: Alert.objects.get(station=station).count == 2)
        assert wait_until(lambda: AlertNotification.objects.filter(sent_at__isnull=False).count() == 1)

        opened = mails()
        assert [m["To"] for m in opened] == ["manager@riverside.example"]
        assert station.identity in opened[0]["Subject"] and "GroundFailure" in opened[0].get_payload()

        status(charger, "Available")
        assert wait_until(lambda: not Alert.objects.open().exists())
        assert wait_until(lambda: len(mails()) == 2)

    alert = Alert.objects.get()
    assert alert.evidence["error_code"] == "GroundFailure" and alert.closed_at is not None
    # The file backend names its files by second and object id: within a second their order is arbitrary.
    closing = [m for m in mails() if m.get_payload() != opened[0].get_payload()]
    assert len(closing) == 1 and "cleared" in closing[0].get_payload()


def test_a_201_charger_s_notify_event_and_security_event_open_alerts_and_the_cleared_event_closes(gateway):
    station = StationFactory(site__organization=OrganizationFactory())
    with gateway.client(station.identity, STATION_PASSWORD, subprotocols=("ocpp2.0.1",)) as charger:
        assert (
            charger.result("BootNotification", load_payload("v201", "boot_notification"))["status"]
            == "Accepted"
        )
        charger.result("NotifyEvent", frame("notify_event_alerting"))
        charger.result(
            "SecurityEventNotification", frame("security_event_notification", type="InvalidTLSVersion")
        )
        kinds = sorted(Alert.objects.open().filter(station=station).values_list("kind", flat=True))
        assert kinds == ["fault", "security_event"]  # stored before the charger got its answer
        charger.result("NotifyEvent", frame("notify_event_alerting_cleared"))
        assert list(Alert.objects.open().filter(station=station).values_list("kind", flat=True)) == [
            "security_event"
        ]
