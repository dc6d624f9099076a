"""A charger to pay at by card: an operator's open site with a tariff, an online charger with an
available connector, and a driver; and what Stripe.js would do with a hold's client secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe
from django.utils import timezone

from accounts.models import IdToken, OrganizationKind, User
from billing.domain import PaymentStatus
from billing.models import Payment, Tariff
from stations.domain import ConnectorStatus
from stations.models import ChargingSession, Connector, MeterSample, Station
from tests.billing.tariff_fixtures import TariffAssignmentFactory, TariffFactory
from tests.factories import OrganizationFactory, SiteFactory, StationFactory
from tests.portal.conftest import verified_driver

PAY = "/billing/pay/{identity}/1/"


@dataclass
class PayScene:
    station: Station
    connector: Connector
    tariff: Tariff
    driver: User


def pay_scene(
    *,
    energy_price: str = "0.40",
    online: bool = True,
    status: ConnectorStatus = ConnectorStatus.AVAILABLE,
    email: str = "driver@example.com",
    **station: Any,
) -> PayScene:
    operator = OrganizationFactory(name="Volt Parking", kind=OrganizationKind.OPERATOR)
    site = SiteFactory(organization=operator, name="Harbour Garage", time_zone="Europe/Paris")
    charger = StationFactory(site=site, is_online=online, **station)
    connector = Connector.objects.create(
        station=charger, evse_id=1, status=status, status_since=timezone.now() - timedelta(minutes=5)
    )
    tariff = TariffFactory(
        organization=operator,
        energy_price_per_kwh=Decimal(energy_price),
        tax_rate_percent=Decimal(20),
        prices_include_tax=True,
    )
    TariffAssignmentFactory(tariff=tariff, site=site)
    return PayScene(station=charger, connector=connector, tariff=tariff, driver=verified_driver(email))


def authorize(api: stripe.StripeClient, payment: Payment, card: str = "pm_card_visa") -> dict[str, Any]:
    """Confirm the hold's PaymentIntent with a test card, as the Payment Element does in the browser."""
    try:
        intent = api.v1.payment_intents.confirm(
            payment.provider_reference or "", params={"payment_method": card}
        )
    except stripe.CardError as error:
        return {"error": error.user_message}
    return intent.to_dict()


def open_session_with_register(
    *, payment: Payment, started_at: datetime, readings_wh: list[tuple[datetime, int]]
) -> ChargingSession:
    """An open session started by the hold's id tag, with energy register samples (as MeterValues)."""
    assert payment.station is not None and payment.id_token is not None
    session = ChargingSession.objects.create(
        station=payment.station,
        connector=Connector.objects.get(station=payment.station, evse_id=payment.evse_id),
        id_token=payment.id_token,
        id_tag=payment.id_token.id_tag,
        external_id="77",
        started_at=started_at,
        meter_start_wh=0,
    )
    MeterSample.objects.bulk_create(
        MeterSample(
            station=payment.station,
            session=session,
            evse_id=payment.evse_id or 1,
            sampled_at=at,
            measurand="Energy.Active.Import.Register",
            unit="Wh",
            value=Decimal(value),
        )
        for at, value in readings_wh
    )
    return session


def start_hold(client, scene) -> Payment:  # type: ignore[no-untyped-def]
    client.force_login(scene.driver)
    response = client.post(PAY.format(identity=scene.station.identity) + "start/")
    payment = Payment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/billing/payments/{payment.pk}/"
    return payment


def held_payment(client, scene, stripe_api) -> Payment:  # type: ignore[no-untyped-def]
    """A hold the driver authorized and whose session started (the start itself is the live tests')."""
    payment = start_hold(client, scene)
    authorize(stripe_api, payment)
    payment.status = PaymentStatus.AUTHORIZED
    payment.id_token = IdToken.objects.create(id_tag=f"PAY-{payment.pk}", owner=scene.driver)
    payment.save()
    return payment
