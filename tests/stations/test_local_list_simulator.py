"""The simulated charger keeps a local authorization list: against a fake CSMS, and synced by the CSMS
over the live gateway, for 1.6 and 2.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.domain import AuthorizationStatus
from accounts.models import AccessGroup, IdToken, IdTokenStatus, Organization
from stations.domain import AccessPolicy, LocalListEntryData
from stations.models import AccessRule, Frame, LocalListEntry, Station
from stations.ocpp.adapters import ADAPTERS
from stations.services.local_list import local_list_sync, local_list_version_get, local_lists_sync
from stations.simulator.charger import SimulatedCharger
from tests.factories import IdTokenFactory, SiteFactory, StationFactory
from tests.simulator_live import charger_online, eventually_in_db, in_db, use_redis
from tests.stations.test_simulator import FakeCsms, on_fake_csms, result

SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
EXPIRY = (timezone.now() + timedelta(days=30)).replace(microsecond=0)


@asynccontextmanager
async def simulated(ocpp: str) -> AsyncIterator[tuple[FakeCsms, SimulatedCharger]]:
    """A charger of this version on the fake CSMS; the CSMS's calls and the charger's answers are checked
    against the schemas. It meters at the charger's default of 60 s unless a test sets another interval."""
    csms = FakeCsms(subprotocol=SUBPROTOCOL[ocpp])
    async with on_fake_csms(csms, "SIM-LL", ocpp, meter_interval_s=60) as charger:
        yield csms, charger


def send_list(
    ocpp: str, *, version: int, full: bool, entries: list[LocalListEntryData], removed: tuple[str, ...] = ()
) -> tuple[str, dict[str, Any]]:
    """The CSMS's own SendLocalList for this version."""
    return ADAPTERS[SUBPROTOCOL[ocpp]].local_list_update_call(
        version=version, full=full, entries=entries, removed=removed
    )


def held(charger: SimulatedCharger) -> dict[str, str]:
    return {tag: info["status"] for tag, info in charger.local_list.entries.values()}


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
async def test_the_simulator_applies_full_and_differential_updates_and_reports_its_version(ocpp):
    adapter = ADAPTERS[SUBPROTOCOL[ocpp]]
    async with simulated(ocpp) as (csms, charger):
        version = result(await csms.call(*adapter.local_list_version_call()))
        assert adapter.local_list_version(version) == 0
        full = [
            LocalListEntryData("Card-A", AuthorizationStatus.ACCEPTED, EXPIRY, "FLEET"),
            LocalListEntryData("CARD-B", AuthorizationStatus.BLOCKED),
        ]
        assert result(await csms.call(*send_list(ocpp, version=3, full=True, entries=full))) == {
            "status": "Accepted"
        }
        # 1.6's idTagInfo inside, whichever version brought it; tags compare ignoring case
        assert charger.local_list.info("card-a") == {
            "status": "Accepted",
            "expiryDate": EXPIRY.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "parentIdTag": "FLEET",
        }

        stale = send_list(ocpp, version=3, full=False, entries=[], removed=("CARD-B",))
        assert result(await csms.call(*stale)) == {"status": "VersionMismatch"}
        change = send_list(
            ocpp,
            version=4,
            full=False,
            entries=[LocalListEntryData("CARD-C", AuthorizationStatus.EXPIRED)],
            removed=("card-b",),
        )
        assert result(await csms.call(*change)) == {"status": "Accepted"}
        assert held(charger) == {"Card-A": "Accepted", "CARD-C": "Expired"}
        assert adapter.local_list_version(result(await csms.call(*adapter.local_list_version_call()))) == 4

        charger.config.keys["SendLocalListMaxLength"].value = "1"
        too_long = send_list(ocpp, version=5, full=True, entries=full)
        assert result(await csms.call(*too_long)) == {"status": "Failed"}
        assert len(charger.local_list) == 2 and charger.local_list.version == 4

        empty = send_list(ocpp, version=6, full=True, entries=[])
        assert result(await csms.call(*empty)) == {"status": "Accepted"}
        assert (len(charger.local_list), charger.local_list.version) == (0, 6)


@pytest.mark.parametrize(("ocpp", "component"), [("1.6", None), ("2.0.1", "LocalAuthListCtrlr")])
async def test_the_simulator_says_how_many_entries_a_message_may_carry(ocpp, component):
    async with simulated(ocpp) as (csms, _):
        if component is None:
            answer = result(await csms.call("GetConfiguration", {"key": ["SendLocalListMaxLength"]}))
            assert answer["configurationKey"][0]["value"] == "100"
        else:
            wanted = {"component": {"name": component}, "variable": {"name": "ItemsPerMessage"}}
            answer = result(await csms.call("GetVariables", {"getVariableData": [wanted]}))
            assert answer["getVariableResult"][0]["attributeValue"] == "100"


# --- over the live gateway ----------------------------------------------------------------------------
def residents_home(identity: str) -> Station:
    organization = Organization.objects.create(name=f"Residences of {identity}")
    site = SiteFactory(organization=organization, access_policy=AccessPolicy.RESTRICTED)
    group = AccessGroup.objects.create(organization=organization, name="Residents")
    AccessRule.objects.create(site=site, group=group)
    group.id_tokens.add(
        IdTokenFactory(id_tag=f"{identity}-A"),
        IdTokenFactory(id_tag=f"{identity}-B", status=IdTokenStatus.BLOCKED),
    )
    return StationFactory(identity=identity, site=site)


def change_residents(identity: str) -> None:
    group = AccessGroup.objects.get(organization__name=f"Residences of {identity}")
    group.id_tokens.add(IdTokenFactory(id_tag=f"{identity}-C"))
    group.id_tokens.remove(IdToken.objects.get(id_tag=f"{identity}-A"))


@pytest.mark.live
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_csms_keeps_simulated_chargers_lists_in_step_over_the_live_gateway(gateways, settings):
    url = use_redis(gateways, settings)
    stations = {ocpp: residents_home(f"SIM-LL-{n}") for n, ocpp in enumerate(["1.6", "2.0.1"], start=1)}

    async def scenario() -> tuple[list[Any], dict[str, SimulatedCharger]]:
        outcomes: list[Any] = []
        async with AsyncExitStack() as online:
            chargers = {
                ocpp: await online.enter_async_context(charger_online(station.identity, url, ocpp))
                for ocpp, station in stations.items()
            }
            assert await eventually_in_db(lambda: Station.objects.filter(is_online=True).count() == 2, 5)
            outcomes.append(await in_db(local_lists_sync))  # the periodic sweep
            for station in stations.values():
                await in_db(lambda station=station: change_residents(station.identity))
                fresh = lambda station=station: Station.objects.get(pk=station.pk)  # noqa: E731
                outcomes.append(await in_db(lambda fresh=fresh: local_list_sync(fresh())))
                outcomes.append(await in_db(lambda fresh=fresh: local_list_version_get(fresh())))
        return outcomes, chargers

    outcomes, chargers = asyncio.run(scenario())
    assert outcomes == [2, True, 2, True, 2]
    for ocpp, station in stations.items():
        identity = station.identity
        assert held(chargers[ocpp]) == {f"{identity}-B": "Blocked", f"{identity}-C": "Accepted"}
        assert chargers[ocpp].local_list.version == 2
        station.refresh_from_db()
        assert (station.local_list_version, station.local_list_error) == (2, "")
        rows = LocalListEntry.objects.filter(station=station).order_by("id_tag")
        assert [(row.id_tag, row.status) for row in rows] == [
            (f"{identity}-B", "blocked"),
            (f"{identity}-C", "accepted"),
        ]
        updates = Frame.objects.filter(identity=identity, action="SendLocalList", message_type=2)
        assert updates.count() == 2
        assert chargers[ocpp].stats.protocol_errors == []
    assert not Frame.objects.filter(message_type=4).exists(), "no CallError either way"
