"""Local authorization lists: which cards a charger should know, and keeping its list in step with
SendLocalList (full, differential, in parts), against a charger on an in-process socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.domain import AuthorizationStatus
from accounts.models import AccessGroup, AccessGroupMember, IdToken, IdTokenStatus, Organization
from stations.domain import AccessPolicy, CallStatus, LocalListEntryData
from stations.models import AccessRule, DeviceVariable, LocalListEntry, OutgoingCall, Site, Station
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.validation import validate_payload
from stations.services.local_list import (
    NOT_SUPPORTED,
    local_list_desired,
    local_list_sync,
    local_lists_sync,
    local_lists_sync_on_commit,
)
from tests.communicators import connected_charger
from tests.factories import IdTokenFactory, SiteFactory, StationFactory, UserFactory

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
FUTURE = timezone.now() + timedelta(days=365)
PAST = timezone.now() - timedelta(days=1)


# --- which cards a charger should know ----------------------------------------------------------------
@dataclass
class Residence:
    """A restricted site of an organization whose residents' group may charge at every charger."""

    organization: Organization
    site: Site
    station: Station
    group: AccessGroup


def residence(policy: str = AccessPolicy.RESTRICTED) -> Residence:
    organization = Organization.objects.create(name=f"Residences {Organization.objects.count()}")
    site = SiteFactory(organization=organization, access_policy=policy)
    station = StationFactory(site=site)
    group = AccessGroup.objects.create(organization=organization, name="Residents")
    AccessRule.objects.create(site=site, group=group)
    return Residence(organization, site, station, group)


def tags(entries: list[LocalListEntryData]) -> list[str]:
    return [entry.id_tag for entry in entries]


@pytest.mark.django_db
def test_the_cards_of_a_group_with_a_rule_at_the_site_are_listed_directly_or_by_the_drivers_email():
    home = residence()
    direct = IdTokenFactory(id_tag="DIRECT")
    home.group.id_tokens.add(direct)
    driver = UserFactory(email="Ann.Driver@Example.com")
    IdTokenFactory(id_tag="ANNS-CARD", owner=driver)
    IdTokenFactory(id_tag="ANNS-FOB", owner=driver)
    AccessGroupMember.objects.create(group=home.group, email="ann.driver@example.com")
    IdTokenFactory(id_tag="STRANGER", organization=home.organization)  # issued here, but in no group
    assert tags(local_list_desired(home.station)) == ["ANNS-CARD", "ANNS-FOB", "DIRECT"]


@pytest.mark.django_db
def test_a_card_in_a_group_twice_over_is_listed_once():
    home = residence()
    driver = UserFactory(email="bo@example.com")
    card = IdTokenFactory(id_tag="BO", owner=driver)
    home.group.id_tokens.add(card)
    AccessGroupMember.objects.create(group=home.group, email="bo@example.com")
    AccessRule.objects.create(site=home.site, station=home.station, group=home.group)
    assert tags(local_list_desired(home.station)) == ["BO"]


@pytest.mark.django_db
def test_rules_of_other_chargers_and_other_sites_and_public_rules_add_nothing():
    home = residence()
    home.group.id_tokens.add(IdTokenFactory(id_tag="RESIDENT"))
    garage = AccessGroup.objects.create(organization=home.organization, name="Garage")
    garage.id_tokens.add(IdTokenFactory(id_tag="GARAGE"))
    other_charger = StationFactory(site=home.site)
    AccessRule.objects.create(site=home.site, station=other_charger, group=garage)
    elsewhere = AccessGroup.objects.create(organization=home.organization, name="Elsewhere")
    elsewhere.id_tokens.add(IdTokenFactory(id_tag="ELSEWHERE"))
    AccessRule.objects.create(site=SiteFactory(organization=home.organization), group=elsewhere)
    AccessRule.objects.create(site=home.site)  # public: any accepted card, which no list can name
    IdTokenFactory(id_tag="ANYBODY")

    assert tags(local_list_desired(home.station)) == ["RESIDENT"]
    assert tags(local_list_desired(other_charger)) == ["GARAGE", "RESIDENT"]
    AccessRule.objects.create(site=home.site, station=home.station, group=garage)
    assert tags(local_list_desired(home.station)) == ["GARAGE", "RESIDENT"]


@pytest.mark.django_db
def test_an_open_site_lists_the_cards_its_organization_issued_and_a_restricted_one_does_not():
    home = residence(policy=AccessPolicy.OPEN)
    IdTokenFactory(id_tag="ISSUED-HERE", organization=home.organization)
    IdTokenFactory(id_tag="ISSUED-ELSEWHERE", organization=Organization.objects.create(name="Fleet"))
    home.group.id_tokens.add(IdTokenFactory(id_tag="RESIDENT"))
    assert tags(local_list_desired(home.station)) == ["ISSUED-HERE", "RESIDENT"]

    Site.objects.filter(pk=home.site.pk).update(access_policy=AccessPolicy.RESTRICTED)
    home.station.refresh_from_db()
    assert tags(local_list_desired(home.station)) == ["RESIDENT"]


@pytest.mark.django_db
def test_blocked_and_expired_cards_stay_listed_with_their_status_expiry_and_group():
    home = residence()
    cards = [
        IdTokenFactory(id_tag="A-OK", expires_at=FUTURE, parent_id_tag="FLEET-1"),
        IdTokenFactory(id_tag="B-BLOCKED", status=IdTokenStatus.BLOCKED),
        IdTokenFactory(id_tag="C-EXPIRED", expires_at=PAST),
    ]
    home.group.id_tokens.add(*cards)
    assert local_list_desired(home.station) == [
        LocalListEntryData("A-OK", AuthorizationStatus.ACCEPTED, FUTURE, "FLEET-1"),
        LocalListEntryData("B-BLOCKED", AuthorizationStatus.BLOCKED),
        LocalListEntryData("C-EXPIRED", AuthorizationStatus.EXPIRED, PAST),
    ]


@pytest.mark.django_db
def test_a_charger_without_a_site_gets_an_empty_list():
    IdTokenFactory(id_tag="ANY")
    assert local_list_desired(StationFactory(site=None)) == []


# --- the payloads ---------------------------------------------------------------------------------------
ENTRIES = [
    LocalListEntryData("A-OK", AuthorizationStatus.ACCEPTED, FUTURE, "FLEET-1"),
    LocalListEntryData("B-BLOCKED", AuthorizationStatus.BLOCKED),
    LocalListEntryData("C-EXPIRED", AuthorizationStatus.EXPIRED, PAST),
]


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
@pytest.mark.parametrize(
    ("full", "entries", "removed"), [(True, ENTRIES, []), (True, [], []), (False, ENTRIES, ["GONE"])]
)
def test_list_updates_and_version_requests_pass_the_schema(protocol, full, entries, removed):
    adapter = ADAPTERS[protocol]
    action, payload = adapter.local_list_update_call(version=7, full=full, entries=entries, removed=removed)
    validate_payload(version=adapter.schema_version, message_type=2, action=action, payload=payload)
    assert version_of(payload) == 7
    assert listed(payload) == {
        **{e.id_tag: e.status.label for e in entries},
        **dict.fromkeys(removed),
    }
    action, payload = adapter.local_list_version_call()
    validate_payload(version=adapter.schema_version, message_type=2, action=action, payload=payload)


def test_the_201_entries_carry_the_token_type_expiry_and_group():
    _, payload = ADAPTERS["ocpp2.0.1"].local_list_update_call(version=1, full=True, entries=ENTRIES[:1])
    assert payload["localAuthorizationList"] == [
        {
            "idToken": {"idToken": "A-OK", "type": "ISO14443"},
            "idTokenInfo": {
                "status": "Accepted",
                "cacheExpiryDateTime": FUTURE.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "groupIdToken": {"idToken": "FLEET-1", "type": "Central"},
            },
        }
    ]
    _, payload = ADAPTERS["ocpp1.6"].local_list_update_call(version=1, full=True, entries=ENTRIES[:1])
    assert payload["localAuthorizationList"][0]["idTagInfo"]["parentIdTag"] == "FLEET-1"


# --- sending them to a charger --------------------------------------------------------------------------
def version_of(payload: dict[str, Any]) -> int:
    return payload["listVersion"] if "listVersion" in payload else payload["versionNumber"]


def listed(payload: dict[str, Any]) -> dict[str, str | None]:
    """idTag -> status sent (None: removed), whichever version wrote the SendLocalList."""
    found: dict[str, str | None] = {}
    for item in payload.get("localAuthorizationList", []):
        tag = item["idTag"] if "idTag" in item else item["idToken"]["idToken"]
        info = item.get("idTagInfo") or item.get("idTokenInfo")
        found[tag] = info["status"] if info else None
    return found


def update(call: list[Any]) -> tuple[str, int, dict[str, str | None]]:
    """A SendLocalList call as (update type, version, entries)."""
    assert call[2] == "SendLocalList", call
    return call[3]["updateType"], version_of(call[3]), listed(call[3])


ACCEPTED = {"status": "Accepted"}
Answer = dict[str, Any] | tuple[str, str] | Callable[[list[Any]], dict[str, Any]]


async def exchange(
    charger: WebsocketCommunicator, run: Callable[[], Any], answers: list[Answer]
) -> tuple[Any, list[list[Any]]]:
    """Run `run` in a worker thread while the charger answers its calls in turn (a dict: a CALLRESULT,
    a (code, description) pair: a CALLERROR); return its result and the calls, once nothing else comes."""
    task = asyncio.create_task(database_sync_to_async(run, thread_sensitive=False)())
    calls = []
    for answer in answers:
        call = json.loads(await charger.receive_from(timeout=10))
        calls.append(call)
        if callable(answer):
            answer = answer(call)
        reply = [3, call[1], answer] if isinstance(answer, dict) else [4, call[1], *answer, {}]
        await charger.send_to(text_data=json.dumps(reply))
    result = await asyncio.wait_for(task, 15)
    assert await charger.receive_nothing(timeout=0.2), "a call more than expected"
    return result, calls


def sync_of(station: Station, **options: Any) -> Callable[[], bool]:
    return lambda: local_list_sync(Station.objects.get(pk=station.pk), **options)


@database_sync_to_async
def stored(station: Station) -> tuple[int, dict[str, str], str]:
    """The list as recorded: version, idTag -> status, error."""
    station.refresh_from_db()
    rows = LocalListEntry.objects.filter(station=station)
    return station.local_list_version, {row.id_tag: row.status for row in rows}, station.local_list_error


@pytest.fixture
def home(transactional_db) -> Residence:
    home = residence()
    home.group.id_tokens.add(
        IdTokenFactory(id_tag="A-OK", expires_at=FUTURE),
        IdTokenFactory(id_tag="B-BLOCKED", status=IdTokenStatus.BLOCKED),
        IdTokenFactory(id_tag="C-GOING"),
    )
    return home


FIRST = {"A-OK": "accepted", "B-BLOCKED": "blocked", "C-GOING": "accepted"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protocol", VERSIONS)
async def test_the_first_sync_sends_the_whole_list_and_an_unchanged_list_is_not_sent_again(home, protocol):
    charger = await connected_charger(home.station.identity, subprotocol=protocol)
    accepted, [call] = await exchange(charger, sync_of(home.station), [ACCEPTED])
    assert accepted is True
    assert update(call) == ("Full", 1, {"A-OK": "Accepted", "B-BLOCKED": "Blocked", "C-GOING": "Accepted"})
    assert await stored(home.station) == (1, FIRST, "")
    assert (await Station.objects.aget(pk=home.station.pk)).local_list_synced_at is not None

    accepted, calls = await exchange(charger, sync_of(home.station), [])
    assert (accepted, calls) == (False, [])
    await charger.disconnect()


@database_sync_to_async
def change_the_residents(home: Residence) -> None:
    home.group.id_tokens.add(IdTokenFactory(id_tag="D-NEW"))
    IdToken.objects.filter(id_tag="A-OK").update(status=IdTokenStatus.BLOCKED)
    home.group.id_tokens.remove(IdToken.objects.get(id_tag="C-GOING"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protocol", VERSIONS)
async def test_a_change_is_sent_as_a_differential_update_that_removes_cards_by_id_alone(home, protocol):
    charger = await connected_charger(home.station.identity, subprotocol=protocol)
    await exchange(charger, sync_of(home.station), [ACCEPTED])
    await change_the_residents(home)

    accepted, [call] = await exchange(charger, sync_of(home.station), [ACCEPTED])
    assert accepted is True
    assert update(call) == ("Differential", 2, {"A-OK": "Blocked", "D-NEW": "Accepted", "C-GOING": None})
    assert await stored(home.station) == (
        2,
        {"A-OK": "blocked", "B-BLOCKED": "blocked", "D-NEW": "accepted"},
        "",
    )
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protocol", VERSIONS)
@pytest.mark.parametrize("refusal", ["VersionMismatch", "Failed"])
async def test_a_refused_differential_update_is_sent_again_as_a_full_one(home, protocol, refusal):
    charger = await connected_charger(home.station.identity, subprotocol=protocol)
    await exchange(charger, sync_of(home.station), [ACCEPTED])
    await change_the_residents(home)

    accepted, [first, second] = await exchange(
        charger, sync_of(home.station), [{"status": refusal}, ACCEPTED]
    )
    assert accepted is True
    assert update(first)[:2] == ("Differential", 2)
    assert update(second) == ("Full", 2, {"A-OK": "Blocked", "B-BLOCKED": "Blocked", "D-NEW": "Accepted"})
    assert (await stored(home.station))[:2] == (
        2,
        {"A-OK": "blocked", "B-BLOCKED": "blocked", "D-NEW": "accepted"},
    )
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_full_update_is_sent_when_asked_even_if_nothing_changed(home):
    charger = await connected_charger(home.station.identity)
    await exchange(charger, sync_of(home.station), [ACCEPTED])
    accepted, [call] = await exchange(charger, sync_of(home.station, full=True), [ACCEPTED])
    assert accepted is True and update(call)[:2] == ("Full", 2)
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("protocol", "answer"),
    [
        ("ocpp1.6", {"status": "NotSupported"}),
        ("ocpp1.6", ("NotImplemented", "no such action")),
        ("ocpp2.0.1", ("NotSupported", "no local list here")),
    ],
)
async def test_a_charger_without_list_support_is_recorded_and_left_out_of_later_sweeps(
    home, protocol, answer
):
    charger = await connected_charger(home.station.identity, subprotocol=protocol)
    accepted, _ = await exchange(charger, sync_of(home.station), [answer])
    assert accepted is False
    assert await stored(home.station) == (0, {}, NOT_SUPPORTED)

    swept, calls = await exchange(charger, local_lists_sync, [])
    assert (swept, calls) == (0, [])
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_unanswered_update_is_recorded_as_an_error_and_the_list_stays_as_it_was(home):
    charger = await connected_charger(home.station.identity)
    task = asyncio.create_task(
        database_sync_to_async(sync_of(home.station, timeout=0.3), thread_sensitive=False)()
    )
    await charger.receive_from(timeout=10)  # and no answer
    assert await asyncio.wait_for(task, 10) is False
    version, entries, error = await stored(home.station)
    assert (version, entries) == (0, {}) and "did not answer SendLocalList within 0.3 s" in error
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)  # station_call's database_sync_to_async closes the connection
def test_an_offline_charger_is_left_for_the_next_sweep_without_an_error():
    home = residence()
    home.group.id_tokens.add(IdTokenFactory())
    Station.objects.filter(pk=home.station.pk).update(protocol="ocpp1.6", is_online=False)
    assert local_list_sync(Station.objects.get(pk=home.station.pk)) is False
    home.station.refresh_from_db()
    assert (home.station.local_list_version, home.station.local_list_error) == (0, "")
    assert not LocalListEntry.objects.exists()
    assert local_list_sync(StationFactory()) is False  # never connected: no version, nothing to send


# --- lists longer than a message may carry ---------------------------------------------------------------
@database_sync_to_async
def limit_items_per_message(station: Station, protocol: str, limit: int) -> None:
    """What the charger reported earlier: 1.6 to a GetConfiguration, 2.0.1 in its device model."""
    if protocol == "ocpp1.6":
        key = {"key": "SendLocalListMaxLength", "readonly": True, "value": str(limit)}
        OutgoingCall.objects.create(
            station=station,
            unique_id="earlier-read",
            action="GetConfiguration",
            status=CallStatus.ANSWERED,
            response={"configurationKey": [key]},
            completed_at=timezone.now(),
        )
    else:
        DeviceVariable.objects.create(
            station=station,
            component="LocalAuthListCtrlr",
            variable="ItemsPerMessage",
            value=str(limit),
            reported_at=timezone.now(),
        )


@database_sync_to_async
def five_residents(home: Residence) -> None:
    home.group.id_tokens.set([IdTokenFactory(id_tag=f"R{n}") for n in range(1, 6)])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protocol", VERSIONS)
async def test_a_list_longer_than_a_message_goes_in_parts_each_with_its_version(home, protocol):
    await five_residents(home)
    await limit_items_per_message(home.station, protocol, 2)
    charger = await connected_charger(home.station.identity, subprotocol=protocol)

    accepted, calls = await exchange(charger, sync_of(home.station), [ACCEPTED] * 3)
    assert accepted is True
    assert [update(call) for call in calls] == [
        ("Full", 1, {"R1": "Accepted", "R2": "Accepted"}),
        ("Differential", 2, {"R3": "Accepted", "R4": "Accepted"}),
        ("Differential", 3, {"R5": "Accepted"}),
    ]
    assert (await stored(home.station))[:2] == (3, dict.fromkeys(["R1", "R2", "R3", "R4", "R5"], "accepted"))
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_part_the_charger_fails_leaves_the_accepted_parts_recorded_and_the_rest_for_later(home):
    await five_residents(home)
    await limit_items_per_message(home.station, "ocpp1.6", 2)
    charger = await connected_charger(home.station.identity)

    accepted, _ = await exchange(charger, sync_of(home.station), [ACCEPTED, {"status": "Failed"}])
    assert accepted is False
    version, entries, error = await stored(home.station)
    assert (version, sorted(entries)) == (1, ["R1", "R2"])
    assert error == "The charger could not apply the update (list version 2)."

    accepted, calls = await exchange(charger, sync_of(home.station), [ACCEPTED, ACCEPTED])
    assert accepted is True
    assert [update(call)[:2] for call in calls] == [("Differential", 2), ("Differential", 3)]
    assert await stored(home.station) == (3, dict.fromkeys(["R1", "R2", "R3", "R4", "R5"], "accepted"), "")
    await charger.disconnect()


# --- every charger, and after changes ---------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_the_sweep_syncs_each_online_charger_once_and_then_has_nothing_to_send(home):
    await database_sync_to_async(StationFactory)(site=home.site, protocol="ocpp1.6", is_online=False)
    charger = await connected_charger(home.station.identity, subprotocol="ocpp2.0.1")
    swept, [call] = await exchange(charger, local_lists_sync, [ACCEPTED])
    assert swept == 1 and update(call)[:2] == ("Full", 1)
    swept, calls = await exchange(charger, local_lists_sync, [])
    assert (swept, calls) == (0, [])
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_change_committed_with_a_sync_on_commit_reaches_the_charger(home):
    charger = await connected_charger(home.station.identity)
    await exchange(charger, sync_of(home.station), [ACCEPTED])

    def change() -> None:
        with transaction.atomic():
            home.group.id_tokens.add(IdTokenFactory(id_tag="E-LATE"))
            local_lists_sync_on_commit(station_ids=[home.station.pk])

    _, [call] = await exchange(charger, change, [ACCEPTED])  # the task runs eagerly without a broker
    assert update(call) == ("Differential", 2, {"E-LATE": "Accepted"})
    await charger.disconnect()


# --- the admin commands -----------------------------------------------------------------------------------
def command(admin_client: Any, name: str, station: Station) -> Callable[[], Any]:
    data = {
        "action": f"command_{name}",
        "_selected_action": [station.pk],
        "apply": "1",
        "command-timeout_s": "10",
    }
    return lambda: admin_client.post(reverse("admin:stations_station_changelist"), data, follow=True)


def messages_of(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protocol", VERSIONS)
async def test_the_admin_sends_the_full_list_and_compares_the_chargers_version_with_the_stored_one(
    admin_client, home, protocol
):
    identity = home.station.identity
    charger = await connected_charger(identity, subprotocol=protocol)
    response, [call] = await exchange(
        charger, command(admin_client, "local_list_send", home.station), [ACCEPTED]
    )
    assert update(call)[:2] == ("Full", 1)
    assert messages_of(response) == [("success", f"{identity} accepted local list version 1 (3 cards).")]

    version_answer = {"listVersion": 4} if protocol == "ocpp1.6" else {"versionNumber": 4}
    response, [call] = await exchange(
        charger, command(admin_client, "local_list_version", home.station), [version_answer]
    )
    assert call[2:] == ["GetLocalListVersion", {}]
    assert messages_of(response) == [
        ("warning", f"{identity} holds local list version 4; the CSMS last had version 1 accepted.")
    ]
    await charger.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_admin_reports_a_refused_list_and_an_offline_charger(admin_client, home):
    offline = await database_sync_to_async(StationFactory)(site=home.site, protocol="ocpp1.6")
    response = await database_sync_to_async(
        command(admin_client, "local_list_send", offline), thread_sensitive=False
    )()
    assert messages_of(response) == [
        ("warning", f"{offline.identity} is offline; its list is sent when it is back online.")
    ]
    charger = await connected_charger(home.station.identity)
    response, _ = await exchange(
        charger, command(admin_client, "local_list_send", home.station), [{"status": "NotSupported"}]
    )
    assert messages_of(response) == [("error", f"Local list to {home.station.identity}: {NOT_SUPPORTED}")]
    response, _ = await exchange(
        charger, command(admin_client, "local_list_version", home.station), [{"listVersion": -1}]
    )
    assert messages_of(response) == [("warning", f"{home.station.identity} does not support local lists.")]
    await charger.disconnect()
