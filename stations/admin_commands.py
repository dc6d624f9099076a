"""Commands the admin sends to chargers: a form for each, and per OCPP version the payloads it makes.

The admin knows commands only through `COMMANDS`. Each form asks its questions once for all selected
chargers; each charger's negotiated subprotocol picks the builder that turns the answers into
(action, payload) pairs: the same command names for both versions where the meaning is the same (a
remote start is RemoteStartTransaction or RequestStartTransaction; a 1.6 configuration key is the 2.0.1
variable that replaced it, or "Component.Variable").
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.conf import settings

from stations.exceptions import CallRejected, InvalidCall, StationError
from stations.models import ChargingSession, Station
from stations.ocpp.adapters import ADAPTERS
from stations.ocpp.commands import station_call_async
from stations.ocpp.v201 import variable_for_key
from stations.services.local_list import local_list_sync, local_list_version_get

# Until a charger has connected its version is unknown; station_call then reports it offline.
DEFAULT_PROTOCOL = "ocpp1.6"
# Versions whose commands are another's (2.1 kept 2.0.1's).
COMMANDS_OF_VERSION = {"ocpp2.1": "ocpp2.0.1"}
# Answers that mean the charger did what it was asked; any other `status` is shown as a warning.
DONE_STATUSES = frozenset({"Accepted", "Unlocked"})

Payloads = list[tuple[str, dict[str, Any]]]
Builder = Callable[[Station, dict[str, Any]], Payloads]
Runner = Callable[[Station, dict[str, Any], str], "Outcome"]


class CommandForm(forms.Form):
    """The questions of a command; `stations` are the selected chargers, for choices that depend on them."""

    timeout_s = forms.IntegerField(
        label="Wait for the answer (s)",
        min_value=5,
        max_value=300,
        initial=30,
        help_text="Chargers are asked in parallel; each may take this long to answer.",
    )

    def __init__(self, *args: Any, stations: list[Station], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stations = stations
        self.fields["timeout_s"].initial = min(max(int(settings.CSMS_CALL_TIMEOUT_S), 5), 300)
        # The timeout goes last, after the command's own questions.
        self.fields["timeout_s"] = self.fields.pop("timeout_s")


def connector_field(
    *, required: bool, min_value: int = 1, help_text: str = "", initial: int | None = None
) -> forms.IntegerField:
    return forms.IntegerField(
        label="Connector",
        required=required,
        min_value=min_value,
        max_value=99,
        help_text=help_text,
        initial=initial,
    )


class ResetForm(CommandForm):
    kind = forms.ChoiceField(
        label="Reset",
        choices=[("soft", "Soft: restart the software"), ("hard", "Hard: reboot the charger")],
        initial="soft",
        widget=forms.RadioSelect(attrs={"class": "radiolist"}),
        help_text="Sessions in progress are stopped first.",
    )


class UnlockForm(CommandForm):
    connector = connector_field(required=True)


class RemoteStartForm(CommandForm):
    id_tag = forms.CharField(label="ID tag", max_length=20, help_text="The token the session is charged to.")
    connector = connector_field(required=False, help_text="Empty: the charger picks one.")


class RemoteStopForm(CommandForm):
    sessions = forms.ModelMultipleChoiceField(
        queryset=ChargingSession.objects.none(),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "radiolist"}),
        label="Open sessions",
        help_text="Each stop goes to the session's own charger.",
    )

    def __init__(self, *args: Any, stations: list[Station], **kwargs: Any) -> None:
        super().__init__(*args, stations=stations, **kwargs)
        field = self.fields["sessions"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            ChargingSession.objects.open()
            .filter(station__in=stations)
            .select_related("station", "connector")
            .order_by("station__identity", "started_at")
        )
        field.label_from_instance = lambda obj: (  # type: ignore[method-assign]
            f"{obj.station.identity} · connector {obj.connector.evse_id if obj.connector else '?'} · "
            f"transaction {obj.external_id} · {obj.id_tag or 'no tag'} · "
            f"since {obj.started_at:%Y-%m-%d %H:%M}"
        )
        if not field.queryset.exists():
            field.help_text = "None of the selected chargers has an open session."


class AvailabilityForm(CommandForm):
    connector = connector_field(required=True, min_value=0, initial=0, help_text="0: the whole charger.")
    operative = forms.TypedChoiceField(
        label="Availability",
        choices=[("1", "Operative"), ("0", "Inoperative")],
        coerce=lambda v: v == "1",
        initial="1",
        widget=forms.RadioSelect(attrs={"class": "radiolist"}),
    )


class ConfigurationForm(CommandForm):
    key = forms.CharField(
        max_length=101,
        help_text="E.g. HeartbeatInterval, MeterValueSampleInterval; for 2.0.1 also Component.Variable.",
    )
    value = forms.CharField(max_length=500)


class GetConfigurationForm(CommandForm):
    keys = forms.CharField(
        label="Keys",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text="One per line or separated by commas. Empty: every key.",
    )

    def clean_keys(self) -> list[str]:
        keys = [k.strip() for k in self.cleaned_data["keys"].replace(",", "\n").splitlines() if k.strip()]
        if too_long := [k for k in keys if len(k) > 50]:
            raise forms.ValidationError(f"Keys are at most 50 characters: {', '.join(too_long)}")
        return keys


TRIGGERS_16 = [
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
]


class TriggerForm(CommandForm):
    message = forms.ChoiceField(
        label="Message", choices=[(t, t) for t in TRIGGERS_16], initial="StatusNotification"
    )
    connector = connector_field(required=False, min_value=0, help_text="Empty: the whole charger.")


class ConfirmForm(CommandForm):
    pass


def _optional(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _evse(connector: int | None) -> dict[str, Any] | None:
    """The admin's connector N is 2.0.1's EVSE N (1.6 numbers plugs as 2.0.1 numbers EVSEs); 0 or
    none is the whole station."""
    return {"id": connector} if connector else None


def _remote_start(station: Station, data: dict[str, Any]) -> Payloads:
    adapter = ADAPTERS[station.protocol or DEFAULT_PROTOCOL]
    return [adapter.remote_start_call(evse_id=data["connector"], id_tag=data["id_tag"])]


# 1.6 trigger names whose 2.0.1 message has another name.
TRIGGERS_201 = {"DiagnosticsStatusNotification": "LogStatusNotification"}


def _base_report(report_base: str) -> tuple[str, dict[str, Any]]:
    """Ask a 2.0.1 station for a report; it answers Accepted, then sends NotifyReport messages."""
    return ("GetBaseReport", {"requestId": secrets.randbelow(2**31), "reportBase": report_base})


def _get_configuration_201(station: Station, data: dict[str, Any]) -> Payloads:
    if not data["keys"]:  # everything: the station reports it in NotifyReport (the device model)
        return [_base_report("ConfigurationInventory")]
    return [("GetVariables", {"getVariableData": [variable_for_key(key) for key in data["keys"]]})]


def _remote_stop(station: Station, data: dict[str, Any]) -> Payloads:
    """Stop the selected sessions of this charger, each in its version's words."""
    adapter = ADAPTERS[station.protocol or DEFAULT_PROTOCOL]
    calls = (
        adapter.remote_stop_call(session.external_id or "")
        for session in data["sessions"]
        if session.station_id == station.pk
    )
    return [call for call in calls if call is not None]


@dataclass(frozen=True)
class Command:
    label: str
    form_class: type[CommandForm]
    builders: dict[str, Builder] = field(default_factory=dict)
    # A page listing the answers, for commands whose answer is more than a status.
    result_template: str = ""
    # A service that carries out the whole command for one charger, whatever its version, in place of
    # the builders' calls; chargers get it one after the other.
    run: Runner | None = None

    def payloads(self, station: Station, data: dict[str, Any]) -> Payloads | None:
        """Return the calls for this charger, or None when its OCPP version lacks the command."""
        protocol = station.protocol or DEFAULT_PROTOCOL
        builder = self.builders.get(COMMANDS_OF_VERSION.get(protocol, protocol))
        return None if builder is None else builder(station, data)


def _local_list_version(station: Station, data: dict[str, Any], requested_by: str) -> Outcome:
    stored = station.local_list_version
    try:
        reported = local_list_version_get(
            station, timeout=float(data["timeout_s"]), requested_by=requested_by
        )
    except StationError as error:
        text = f"Local list version of {station.identity}: {_describe_error(error)}"
        return Outcome(station.identity, "", "error", text)
    if reported < 0:  # 1.6: -1
        return Outcome(station.identity, "", "warning", f"{station.identity} does not support local lists.")
    level = "success" if reported == stored else "warning"
    text = (
        f"{station.identity} holds local list version {reported}; "
        f"the CSMS last had version {stored} accepted" + ("." if stored else " (never sent).")
    )
    return Outcome(station.identity, "", level, text)


def _local_list_send(station: Station, data: dict[str, Any], requested_by: str) -> Outcome:
    accepted = local_list_sync(
        station, full=True, timeout=float(data["timeout_s"]), requested_by=requested_by
    )
    station.refresh_from_db(fields=["is_online", "local_list_version", "local_list_error"])
    if accepted:
        cards = station.local_list.count()
        text = f"{station.identity} accepted local list version {station.local_list_version} ({cards} cards)."
        return Outcome(station.identity, "", "success", text)
    if not station.is_online:
        text = f"{station.identity} is offline; its list is sent when it is back online."
        return Outcome(station.identity, "", "warning", text)
    error = station.local_list_error or "nothing was sent"
    return Outcome(station.identity, "", "error", f"Local list to {station.identity}: {error}")


COMMANDS: dict[str, Command] = {
    "reset": Command(
        "Reset",
        ResetForm,
        {
            "ocpp1.6": lambda s, d: [("Reset", {"type": "Hard" if d["kind"] == "hard" else "Soft"})],
            "ocpp2.0.1": lambda s, d: [("Reset", {"type": "Immediate" if d["kind"] == "hard" else "OnIdle"})],
        },
    ),
    "unlock": Command(
        "Unlock connector",
        UnlockForm,
        {
            "ocpp1.6": lambda s, d: [("UnlockConnector", {"connectorId": d["connector"]})],
            "ocpp2.0.1": lambda s, d: [("UnlockConnector", {"evseId": d["connector"], "connectorId": 1})],
        },
    ),
    "remote_start": Command(
        "Start a session remotely",
        RemoteStartForm,
        {"ocpp1.6": _remote_start, "ocpp2.0.1": _remote_start},
    ),
    "remote_stop": Command(
        "Stop a session remotely",
        RemoteStopForm,
        {"ocpp1.6": _remote_stop, "ocpp2.0.1": _remote_stop},
    ),
    "availability": Command(
        "Change availability",
        AvailabilityForm,
        {
            "ocpp1.6": lambda s, d: [
                (
                    "ChangeAvailability",
                    {"connectorId": d["connector"], "type": "Operative" if d["operative"] else "Inoperative"},
                )
            ],
            "ocpp2.0.1": lambda s, d: [
                (
                    "ChangeAvailability",
                    {"operationalStatus": "Operative" if d["operative"] else "Inoperative"}
                    | _optional(evse=_evse(d["connector"])),
                )
            ],
        },
    ),
    "set_configuration": Command(
        "Change a configuration key",
        ConfigurationForm,
        {
            "ocpp1.6": lambda s, d: [("ChangeConfiguration", {"key": d["key"], "value": d["value"]})],
            "ocpp2.0.1": lambda s, d: [
                (
                    "SetVariables",
                    {"setVariableData": [{"attributeValue": d["value"], **variable_for_key(d["key"])}]},
                )
            ],
        },
    ),
    "get_configuration": Command(
        "Read configuration",
        GetConfigurationForm,
        {
            "ocpp1.6": lambda s, d: [("GetConfiguration", {"key": d["keys"]} if d["keys"] else {})],
            "ocpp2.0.1": _get_configuration_201,
        },
        result_template="admin/stations/station/configuration_result.html",
    ),
    "device_model": Command(
        "Read the device model",
        ConfirmForm,
        {
            # The station answers Accepted, then sends its components and variables in NotifyReport
            # messages, which fill the admin's device model list.
            "ocpp2.0.1": lambda s, d: [_base_report("FullInventory")],
        },
    ),
    "trigger": Command(
        "Trigger a message",
        TriggerForm,
        {
            "ocpp1.6": lambda s, d: [
                ("TriggerMessage", _optional(requestedMessage=d["message"], connectorId=d["connector"]))
            ],
            "ocpp2.0.1": lambda s, d: [
                (
                    "TriggerMessage",
                    _optional(
                        requestedMessage=TRIGGERS_201.get(d["message"], d["message"]),
                        evse=_evse(d["connector"]),
                    ),
                )
            ],
        },
    ),
    "clear_cache": Command(
        "Clear the authorization cache",
        ConfirmForm,
        {
            "ocpp1.6": lambda s, d: [("ClearCache", {})],
            "ocpp2.0.1": lambda s, d: [("ClearCache", {})],
        },
    ),
    "local_list_version": Command("Get local list version", ConfirmForm, run=_local_list_version),
    "local_list_send": Command("Send local list (full)", ConfirmForm, run=_local_list_send),
}


@dataclass
class Outcome:
    """One call's result, worded for a person."""

    identity: str
    action: str
    level: str  # "success", "warning" or "error"
    text: str
    response: dict[str, Any] | None = None


def _describe_error(error: StationError) -> str:
    if isinstance(error, CallRejected):
        return f"the charger answered with a CallError, {error}"
    if isinstance(error, InvalidCall):
        return f"the call is invalid: {error}"
    return str(error)  # StationOffline, CallTimeout and the rest say what happened, with the identity


async def _call(
    station: Station, action: str, payload: dict[str, Any], timeout: float, requested_by: str
) -> Outcome:
    try:
        response = await station_call_async(
            identity=station.identity,
            action=action,
            payload=payload,
            timeout=timeout,
            requested_by=requested_by,
        )
    except StationError as error:
        text = f"{action} to {station.identity} failed: {_describe_error(error)}"
        return Outcome(station.identity, action, "error", text)
    status = response.get("status", _variables_status(response))
    level = "success" if status is None or status in DONE_STATUSES else "warning"
    text = f"{action} to {station.identity}: answered {json.dumps(response, separators=(', ', ': '))[:300]}"
    return Outcome(station.identity, action, level, text, response)


def _variables_status(response: dict[str, Any]) -> str | None:
    """2.0.1 Get/SetVariables answer per variable: the first that was not Accepted speaks for all."""
    results = response.get("setVariableResult") or response.get("getVariableResult") or []
    return next((r["attributeStatus"] for r in results if r["attributeStatus"] != "Accepted"), None)


def command_run(
    *, command: Command, stations: list[Station], data: dict[str, Any], requested_by: str
) -> list[Outcome]:
    """Send the command to every charger at once (one after the other for a command with a service of its
    own) and return one outcome per call, in charger order."""
    if command.run is not None:
        return [command.run(station, data, requested_by) for station in stations]
    skipped: list[Outcome] = []
    calls: list[tuple[Station, str, dict[str, Any]]] = []
    for station in stations:
        payloads = command.payloads(station, data)
        if payloads is None:
            skipped.append(
                Outcome(
                    station.identity,
                    "",
                    "error",
                    f"{station.identity}: {command.label} is not available in {station.protocol}.",
                )
            )
        calls.extend((station, action, payload) for action, payload in payloads or [])

    async def run_all() -> list[Outcome]:
        return list(
            await asyncio.gather(
                *(
                    _call(s, action, payload, float(data["timeout_s"]), requested_by)
                    for s, action, payload in calls
                )
            )
        )

    return skipped + (async_to_sync(run_all)() if calls else [])
