"""Sessions with prices and payments made directly, for the invoicing tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import IdToken, Organization, OrganizationKind, User
from billing.domain import PaymentMethodKind, PaymentStatus, PriceLineKind
from billing.models import Payment, PriceLine, SessionPrice
from stations.models import ChargingSession, Site, Station
from tests.factories import IdTokenFactory, OrganizationFactory, SiteFactory, StationFactory, UserFactory


def operator(name: str = "Volt Parking") -> Organization:
    return OrganizationFactory(name=name, kind=OrganizationKind.OPERATOR)


def site_of(organization: Organization, name: str | None = None) -> Site:
    return SiteFactory(organization=organization, **({"name": name} if name else {}))


def driver_with_card(email: str = "driver@example.com", **token: object) -> tuple[User, IdToken]:
    user = UserFactory(username=email.split("@")[0], email=email)
    return user, IdTokenFactory(owner=user, **token)


def ended_session(
    *,
    station: Station,
    token: IdToken,
    stopped_at: datetime | None = None,
    energy_wh: int = 12_500,
    minutes: int = 45,
) -> ChargingSession:
    stopped_at = stopped_at or timezone.now() - timedelta(minutes=5)
    return ChargingSession.objects.create(
        station=station,
        id_token=token,
        id_tag=token.id_tag,
        started_at=stopped_at - timedelta(minutes=minutes),
        stopped_at=stopped_at,
        meter_start_wh=1000,
        meter_stop_wh=1000 + energy_wh,
        energy_wh=energy_wh,
    )


def price_of(session: ChargingSession, gross: str = "6.00", tax_percent: str = "20") -> SessionPrice:
    """A price as the pricing service would store it: energy at 0.40/kWh plus a session fee."""
    gross_d = Decimal(gross)
    net = (gross_d / (1 + Decimal(tax_percent) / 100)).quantize(Decimal("0.0001"))
    price = SessionPrice.objects.create(
        session=session,
        currency="EUR",
        net=net,
        tax=gross_d - net,
        gross=gross_d,
        energy_wh=session.energy_wh or 0,
        charging_s=int((session.stopped_at - session.started_at).total_seconds()),
    )
    fee = Decimal("1.00")
    PriceLine.objects.create(
        price=price,
        position=1,
        kind=PriceLineKind.ENERGY,
        description="Energy",
        quantity=Decimal(session.energy_wh or 0) / 1000,
        unit="kWh",
        unit_price=Decimal("0.40"),
        amount=gross_d - fee,
    )
    PriceLine.objects.create(
        price=price,
        position=2,
        kind=PriceLineKind.SESSION_FEE,
        description="Session fee",
        quantity=1,
        unit="",
        unit_price=fee,
        amount=fee,
    )
    return price


def paid(price: SessionPrice, user: User | None = None) -> Payment:
    """The saved card's capture, as the payment service records it."""
    return Payment.objects.create(
        session=price.session,
        user=user or price.session.id_token.owner,
        method=PaymentMethodKind.SAVED_CARD,
        status=PaymentStatus.CAPTURED,
        currency=price.currency,
        amount_authorized=price.gross,
        amount_captured=price.gross,
        provider_reference=f"pi_test_{price.session_id}",
    )


class Scene:
    """An operator with a site and a charger, a driver with a card, and one ended, priced session."""

    def __init__(self, *, email: str = "driver@example.com", operator_name: str = "Volt Parking") -> None:
        self.operator = operator(operator_name)
        self.site = site_of(self.operator)
        self.station = StationFactory(site=self.site)
        self.driver, self.token = driver_with_card(email)
        self.session = ended_session(station=self.station, token=self.token)
        self.price = price_of(self.session)
