"""Apply a profile to the chargers chosen, all at once: 1.6 ChangeConfiguration per key, 2.0.1
SetVariables in batches; every charger's answer for every key is kept. The admin starts an application
(running) and a Celery task sends it; the task runs inline when Celery is eager (no Redis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from stations.configuration.models import (
    ApplicationState,
    ApplyStatus,
    ConfigurationProfile,
    ProfileApplication,
    ProfileApplicationResult,
)
from stations.configuration.services.keys import key_16, set_variable_data
from stations.exceptions import StationError, StationOffline
from stations.models import Station
from stations.ocpp.commands import each_at_once, station_call_async

# SetVariables entries per message; chargers may report a lower ItemsPerMessageSetVariables.
SET_VARIABLES_BATCH = 20
KNOWN_STATUSES = frozenset(ApplyStatus.values)


@dataclass(frozen=True)
class KeyResult:
    key: str
    value: str
    status: str
    detail: str = ""


def _address(data: dict[str, Any]) -> tuple[Any, ...]:
    component, variable = data.get("component", {}), data.get("variable", {})
    evse = component.get("evse") or {}
    return (
        component.get("name"),
        component.get("instance", ""),
        evse.get("id", 0),
        evse.get("connectorId", 0),
        variable.get("name"),
        variable.get("instance", ""),
    )


def _status(answer: str | None) -> str:
    return answer if answer in KNOWN_STATUSES else ApplyStatus.ERROR


async def _apply_16(
    station: Station, entries: list[tuple[str, str]], timeout: float, by: str
) -> list[KeyResult]:
    results = []
    for key, value in entries:
        name = key_16(key)
        if name is None:
            results.append(KeyResult(key, value, ApplyStatus.NOT_SUPPORTED, "No 1.6 key for this variable."))
            continue
        answer = await station_call_async(
            identity=station.identity,
            action="ChangeConfiguration",
            payload={"key": name, "value": value},
            timeout=timeout,
            requested_by=by,
        )
        status = answer.get("status")
        results.append(
            KeyResult(key, value, _status(status), "" if status in KNOWN_STATUSES else str(status))
        )
    return results


async def _apply_201(
    station: Station, entries: list[tuple[str, str]], timeout: float, by: str
) -> list[KeyResult]:
    results = []
    for start in range(0, len(entries), SET_VARIABLES_BATCH):
        batch = entries[start : start + SET_VARIABLES_BATCH]
        answer = await station_call_async(
            identity=station.identity,
            action="SetVariables",
            payload={"setVariableData": [set_variable_data(key, value) for key, value in batch]},
            timeout=timeout,
            requested_by=by,
        )
        # One result per entry, naming its component and variable: matched by name, so a charger that
        # reorders them is still read right.
        answered = {_address(r): r for r in answer.get("setVariableResult", [])}
        for key, value in batch:
            chosen = answered.get(_address(set_variable_data(key, value)), {})
            status = chosen.get("attributeStatus")
            info = (chosen.get("attributeStatusInfo") or {}).get("reasonCode", "")
            detail = info or ("" if status in KNOWN_STATUSES else f"answered {status or 'nothing'}")
            results.append(KeyResult(key, value, _status(status), detail))
    return results


async def _apply_one(
    station: Station, entries: list[tuple[str, str]], timeout: float, by: str
) -> list[KeyResult]:
    apply = _apply_16 if station.protocol == "ocpp1.6" else _apply_201
    try:
        return await apply(station, entries, timeout, by)
    except StationOffline as error:
        return [KeyResult(key, value, ApplyStatus.OFFLINE, str(error)[:300]) for key, value in entries]
    except StationError as error:
        text = (str(error) or type(error).__name__)[:300]
        return [KeyResult(key, value, ApplyStatus.ERROR, text) for key, value in entries]


@transaction.atomic
def _application_create(
    profile: ConfigurationProfile, stations: list[Station], requested_by: str
) -> ProfileApplication:
    application = ProfileApplication.objects.create(
        profile=profile, started_at=timezone.now(), requested_by=requested_by[:150]
    )
    application.stations.set(stations)
    return application


def profile_application_start(
    *, profile: ConfigurationProfile, stations: list[Station], requested_by: str = ""
) -> ProfileApplication:
    """Record the application (running) for the chargers chosen, and have Celery send it after commit."""
    from stations.configuration.tasks import profile_application_run_task  # tasks import this module

    with transaction.atomic():
        application = _application_create(profile, stations, requested_by)
        transaction.on_commit(lambda: profile_application_run_task.delay(application_id=application.pk))
    return application


def profile_application_run(*, application: ProfileApplication, timeout: float = 30.0) -> ProfileApplication:
    """Send the profile's values to every chosen charger at once and store each charger's answer per key;
    an application no longer running (a redelivered task) is left as it is."""
    if application.state != ApplicationState.RUNNING:
        return application
    entries = [(entry.key, entry.value) for entry in application.profile.entries.all()]
    stations = list(application.stations.order_by("identity"))
    by = application.requested_by

    async def apply(station: Station) -> list[KeyResult]:
        return await _apply_one(station, entries, timeout, by)

    try:
        outcomes = each_at_once(apply, stations)
    except Exception as error:  # recorded, so the page does not say "running" for ever
        _finish(application, ApplicationState.FAILED, (str(error) or type(error).__name__)[:300])
        raise
    with transaction.atomic():
        ProfileApplicationResult.objects.bulk_create(
            ProfileApplicationResult(
                application=application,
                station=station,
                key=r.key,
                value=r.value,
                status=r.status,
                detail=r.detail[:300],
            )
            for station, results in zip(stations, outcomes, strict=True)
            for r in results
        )
        _finish(application, ApplicationState.FINISHED)
    return application


def _finish(application: ProfileApplication, state: ApplicationState, error: str = "") -> None:
    application.state, application.error, application.finished_at = state, error, timezone.now()
    application.save(update_fields=["state", "error", "finished_at"])


def profile_apply(
    *, profile: ConfigurationProfile, stations: list[Station], requested_by: str = "", timeout: float = 30.0
) -> ProfileApplication:
    """Apply the profile to the chargers now, in this process (the shell, tests); the admin starts one."""
    application = _application_create(profile, stations, requested_by)
    return profile_application_run(application=application, timeout=timeout)
