"""Tariffs, their assignments and ended sessions with meter readings, for the tariff and price tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import factory

from billing.models import Tariff, TariffAssignment, TariffBand
from stations.models import ChargingSession, Connector, MeterSample, Station
from tests.factories import OrganizationFactory


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tariff

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Tariff {n}")
    currency = "EUR"
    prices_include_tax = True


class TariffBandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffBand


class TariffAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffAssignment


def ended_session(
    *,
    station: Station,
    connector: Connector | None,
    started_at: datetime,
    stopped_at: datetime,
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
    samples: Sequence[tuple[datetime, Decimal | int, str]] = (),
    id_token_pk: int | None = None,
) -> ChargingSession:
    """Return an ended session with energy register samples given as (moment, value, unit)."""
    energy = None if meter_start_wh is None or meter_stop_wh is None else meter_stop_wh - meter_start_wh
    session = ChargingSession.objects.create(
        station=station,
        connector=connector,
        id_token_id=id_token_pk,
        started_at=started_at,
        stopped_at=stopped_at,
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        energy_wh=energy,
    )
    MeterSample.objects.bulk_create(
        MeterSample(
            station=station,
            session=session,
            evse_id=connector.evse_id if connector else 0,
            sampled_at=at,
            measurand="Energy.Active.Import.Register",
            unit=unit,
            context="Sample.Periodic",
            value=Decimal(value),
        )
        for at, value, unit in samples
    )
    return session
