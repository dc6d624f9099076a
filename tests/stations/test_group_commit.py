"""Group commit: frames of many chargers in one transaction, each still answered only once stored."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from stations.models import ChargingSession, Frame, MeterSample, Station, StatusChange
from stations.ocpp.group_commit import frames_process
from stations.ocpp.v16 import Ocpp16
from stations.services.bulk import row_update_latest, rows_deferred
from stations.services.sessions import session_start
from tests.factories import STATION_PASSWORD, StationFactory
from tests.ocpp_fixtures import load_payload

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)
SAMPLES_PER_METER_VALUES = 7  # in the fixture


def charger_in_session() -> tuple[Ocpp16, ChargingSession]:
    station = StationFactory()
    session = session_start(
        station_id=station.pk, evse_id=1, connector_id=1, id_tag="T", meter_start_wh=1000, started_at=T0
    ).session
    return Ocpp16(identity=station.identity, station_id=station.pk, accepted=True), session


def call(unique_id: str, action: str, payload: dict) -> str:
    return json.dumps([2, unique_id, action, payload])


def meter_values(session: ChargingSession, kwh: str = "1.843") -> str:
    payload = load_payload("v16", "meter_values", tx=int(session.external_id))
    payload["meterValue"][0]["sampledValue"][0]["value"] = kwh
    return call(f"mv-{kwh}", "MeterValues", payload)


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": "2026-11-25T10:00:01Z"}


@pytest.mark.django_db(transaction=True)
def test_frames_of_several_chargers_share_a_batch_and_each_gets_its_own_answer():
    (first, first_session), (second, _), (third, _) = (charger_in_session() for _ in range(3))
    batch = [
        (first, meter_values(first_session)),
        (second, call("hb", "Heartbeat", {})),
        (third, call("st", "StatusNotification", STATUS)),
        (first, "not json"),
    ]

    outcomes = frames_process(batch)

    replies = [json.loads(outcome.reply) for outcome in outcomes]
    assert [reply[:2] for reply in replies] == [[3, "mv-1.843"], [3, "hb"], [3, "st"], [4, "-1"]]
    assert replies[3][2] == "FormationViolation"
    assert MeterSample.objects.filter(session=first_session).count() == SAMPLES_PER_METER_VALUES
    first_session.refresh_from_db()
    assert first_session.meter_last_wh == 1843
    assert StatusChange.objects.filter(station_id=third.station_id, status="charging").exists()
    assert Frame.objects.count() == 8  # every frame in and every reply out


@pytest.mark.django_db(transaction=True)
def test_a_frame_failing_in_a_batch_fails_alone_and_leaves_nothing_half_written():
    healthy, healthy_session = charger_in_session()
    station = StationFactory()
    doomed = Ocpp16(identity=station.identity, station_id=station.pk, accepted=True)
    station.delete()  # gone while its socket is still open

    outcomes = frames_process(
        [(healthy, meter_values(healthy_session)), (doomed, call("boom", "StatusNotification", STATUS))]
    )

    assert json.loads(outcomes[0].reply)[:2] == [3, "mv-1.843"]
    assert json.loads(outcomes[1].reply)[:3] == [4, "boom", "InternalError"]
    assert MeterSample.objects.filter(session=healthy_session).count() == SAMPLES_PER_METER_VALUES
    assert not StatusChange.objects.filter(station_id=doomed.station_id).exists()
    assert Frame.objects.filter(unique_id="boom", direction="out", message_type=4).exists()
    assert Frame.objects.filter(unique_id="mv-1.843").count() == 2  # once in, once out: not twice


@pytest.mark.django_db(transaction=True)
def test_a_meter_values_repeated_within_and_across_batches_stores_each_sample_once():
    adapter, session = charger_in_session()
    frame = meter_values(session)
    frames_process([(adapter, frame), (adapter, frame)])
    frames_process([(adapter, frame)])
    frames_process([(adapter, frame), (charger_in_session()[0], call("hb", "Heartbeat", {}))])
    assert MeterSample.objects.filter(session=session).count() == SAMPLES_PER_METER_VALUES


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("meter_values_first", [True, False])
def test_in_a_batch_the_live_meter_takes_the_latest_reading_and_a_stop_is_final(meter_values_first):
    adapter, session = charger_in_session()
    (other, other_session) = charger_in_session()
    stop = call(
        "stop",
        "StopTransaction",
        {"transactionId": int(session.external_id), "meterStop": 9000, "timestamp": "2026-11-25T11:00:00Z"},
    )
    readings = [(adapter, meter_values(session, "5.0"))]
    frames = [*readings, (adapter, stop)] if meter_values_first else [(adapter, stop), *readings]
    frames_process(
        [*frames, (other, meter_values(other_session, "2.0")), (other, meter_values(other_session, "3.0"))]
    )
    session.refresh_from_db()
    other_session.refresh_from_db()
    assert (session.meter_last_wh, session.meter_stop_wh) == (9000, 9000)
    assert other_session.meter_last_wh == 3000


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_many_chargers_sending_at_once_are_all_answered_and_stored_once(gateway):
    chargers, rounds = 30, 10
    stations = StationFactory.create_batch(chargers)
    errors: list[BaseException] = []

    def run(station: Station) -> None:
        try:
            with gateway.client(station.identity, STATION_PASSWORD) as client:
                client.result("BootNotification", load_payload("v16", "boot_notification"))
                start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-25T10:00:00Z"}
                tx = client.result("StartTransaction", start)["transactionId"]
                for n in range(rounds):
                    payload = load_payload("v16", "meter_values", tx=tx)
                    payload["meterValue"][0]["timestamp"] = f"2026-11-25T10:{n + 1:02d}:00Z"
                    assert client.result("MeterValues", payload) == {}
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(station,)) for station in stations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:3]
    assert MeterSample.objects.count() == chargers * rounds * SAMPLES_PER_METER_VALUES
    assert set(ChargingSession.objects.values_list("meter_last_wh", flat=True)) == {1843}
    assert Frame.objects.filter(action="MeterValues").count() == chargers * rounds * 2


@pytest.mark.django_db
def test_deferred_updates_of_several_rows_are_one_statement_on_every_database(django_assert_num_queries):
    first, second = StationFactory(), StationFactory()
    with django_assert_num_queries(1), rows_deferred():
        row_update_latest(Station, first.pk, {"firmware_version": "1.0", "last_seen_at": T0})
        row_update_latest(Station, second.pk, {"firmware_version": "2.0", "last_seen_at": T0})
        row_update_latest(Station, first.pk, {"firmware_version": "1.1", "last_seen_at": T0})
    rows = Station.objects.filter(pk__in=[first.pk, second.pk]).order_by("pk")
    assert [(s.firmware_version, s.last_seen_at) for s in rows] == [("1.1", T0), ("2.0", T0)]
