"""Key names across versions, and when a 2.0.1 report sent in several NotifyReport messages is complete."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from stations.configuration.services.keys import key_16, key_201, set_variable_data, variable_key
from stations.configuration.services.snapshots import _device_model_values, _report_complete
from stations.models import DeviceVariable, Frame
from tests.factories import StationFactory


def test_a_1_6_key_names_the_2_0_1_variable_that_replaced_it_and_back():
    assert key_201("MeterValueSampleInterval") == "SampledDataCtrlr/TxUpdatedInterval"
    assert key_201("VendorKey") == "OCPPCommCtrlr/VendorKey"  # as the admin's variable_for_key
    assert key_201("AuthCtrlr.Enabled") == "AuthCtrlr/Enabled"  # the admin's older dotted form
    assert key_16("SampledDataCtrlr/TxUpdatedInterval") == "MeterValueSampleInterval"
    assert key_16("OCPPCommCtrlr/VendorKey") == "VendorKey"
    assert key_16("VendorCtrlr/Boost") is None


def test_instances_and_evses_round_trip_through_set_variables():
    key = variable_key(
        component="EVSE",
        component_instance="a",
        evse_id=2,
        connector_id=1,
        variable="Power",
        variable_instance="max",
    )
    assert key == "EVSE.a@2.1/Power.max"
    assert set_variable_data(key, "11000") == {
        "attributeValue": "11000",
        "component": {"name": "EVSE", "instance": "a", "evse": {"id": 2, "connectorId": 1}},
        "variable": {"name": "Power", "instance": "max"},
    }


@pytest.mark.django_db
def test_a_report_is_complete_only_with_its_last_message():
    station = StationFactory(identity="CS-REPORT")
    asked_at = timezone.now()

    def notify(request_id: int, seq_no: int, tbc: bool) -> None:
        payload = {
            "requestId": request_id,
            "generatedAt": "2026-01-01T00:00:00Z",
            "seqNo": seq_no,
            "tbc": tbc,
        }
        Frame.objects.create(
            identity=station.identity,
            direction="in",
            message_type=2,
            action="NotifyReport",
            text=json.dumps([2, f"m{seq_no}", "NotifyReport", payload]),
            created_at=timezone.now(),
        )

    notify(7, 0, tbc=True)
    notify(8, 0, tbc=False)  # another request's report
    assert not _report_complete(station.identity, 7, asked_at)
    notify(7, 1, tbc=False)
    assert _report_complete(station.identity, 7, asked_at)


@pytest.mark.django_db
def test_the_snapshot_holds_actual_values_and_flags_read_only_ones():
    station = StationFactory()
    now = timezone.now()
    DeviceVariable.objects.bulk_create(
        [
            DeviceVariable(
                station=station,
                component="OCPPCommCtrlr",
                variable="HeartbeatInterval",
                value="300",
                mutability="ReadWrite",
                reported_at=now,
            ),
            DeviceVariable(
                station=station,
                component="EVSE",
                evse_id=1,
                variable="Power",
                value="22000",
                mutability="ReadOnly",
                reported_at=now,
            ),
            DeviceVariable(
                station=station,
                component="EVSE",
                evse_id=1,
                variable="Power",
                value="11000",
                attribute_type="MaxSet",
                reported_at=now,
            ),
        ]
    )
    values, read_only = _device_model_values(station)
    assert values == {"OCPPCommCtrlr/HeartbeatInterval": "300", "EVSE@1/Power": "22000"}
    assert read_only == ["EVSE@1/Power"]
