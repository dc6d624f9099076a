"""Health checks, run by Celery beat (schedules editable in the admin): each looks at the chargers,
raises or clears alerts, and keeps a HealthCheckRun with its findings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from stations.alerts.domain import AlertKind
from stations.alerts.services import alert_clear, alert_raise
from stations.configuration.models import FirmwareStandard, HealthCheck, HealthCheckRun
from stations.configuration.services.drift import drift_compare, drift_problems, profiles_for_station
from stations.configuration.services.keys import set_variable_data
from stations.configuration.services.snapshots import snapshots_take
from stations.configuration.services.versions import version_is_behind
from stations.exceptions import StationError, StationOffline
from stations.models import Station
from stations.ocpp.commands import each_at_once, station_call_async
from stations.services.registry import station_heartbeat_interval

CHECK_TIMEOUT_S = 30.0
REQUESTED_BY = "health check"


def _run(check: HealthCheck, body: Callable[[HealthCheckRun], None]) -> HealthCheckRun:
    run = HealthCheckRun.objects.create(check_name=check, started_at=timezone.now())
    body(run)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at", "checked", "problems", "errors", "findings"])
    return run


def _online() -> list[Station]:
    return list(Station.objects.filter(is_online=True).exclude(protocol="").select_related("site"))


# --- heartbeat interval ---------------------------------------------------------------------------


async def _heartbeat_interval_read(station: Station) -> str | None:
    """The charger's HeartbeatInterval as it reports it (1.6 GetConfiguration, 2.0.1 GetVariables)."""
    if station.protocol == "ocpp1.6":
        answer = await station_call_async(
            identity=station.identity,
            action="GetConfiguration",
            payload={"key": ["HeartbeatInterval"]},
            timeout=CHECK_TIMEOUT_S,
            requested_by=REQUESTED_BY,
        )
        found = [k for k in answer.get("configurationKey") or [] if k["key"] == "HeartbeatInterval"]
        return found[0].get("value") if found else None
    wanted = set_variable_data("HeartbeatInterval", "")
    del wanted["attributeValue"]
    answer = await station_call_async(
        identity=station.identity,
        action="GetVariables",
        payload={"getVariableData": [wanted]},
        timeout=CHECK_TIMEOUT_S,
        requested_by=REQUESTED_BY,
    )
    results = [r for r in answer.get("getVariableResult", []) if r.get("attributeStatus") == "Accepted"]
    return results[0].get("attributeValue") if results else None


async def _heartbeat_finding(station: Station) -> dict[str, Any]:
    expected = station_heartbeat_interval(station)
    finding: dict[str, Any] = {"station": station.identity, "expected_s": expected}
    try:
        reported = await _heartbeat_interval_read(station)
    except StationOffline as error:
        return finding | {"result": "offline", "detail": str(error)}
    except StationError as error:
        return finding | {"result": "error", "detail": str(error) or type(error).__name__}
    ok = reported is not None and reported.strip() == str(expected)
    return finding | {
        "reported": reported,
        "result": "ok" if ok else ("missing" if reported is None else "different"),
    }


def heartbeat_check() -> HealthCheckRun:
    """Ask every online charger its HeartbeatInterval and compare it with the interval the CSMS gives it
    at boot (its own, else CSMS_HEARTBEAT_INTERVAL_S): a charger heartbeating slower than that is taken
    for offline, one heartbeating faster costs traffic."""

    def body(run: HealthCheckRun) -> None:
        stations = _online()

        findings = each_at_once(_heartbeat_finding, stations)
        for station, finding in zip(stations, findings, strict=True):
            key = f"heartbeat_interval:{station.identity}"
            if finding["result"] in ("different", "missing"):
                reported = finding.get("reported")
                alert_raise(
                    kind=AlertKind.HEARTBEAT_INTERVAL,
                    key=key,
                    summary=f"{station.identity} heartbeats every {reported or '?'} s, "
                    f"not every {finding['expected_s']} s",
                    evidence={"check": "heartbeat", **finding},
                    station=station,
                )
            elif finding["result"] == "ok":
                alert_clear(key=key, reason=f"HeartbeatInterval is {finding['expected_s']} s again.")
        run.findings = findings
        run.checked = len(findings)
        run.problems = sum(f["result"] in ("different", "missing") for f in findings)
        run.errors = sum(f["result"] in ("offline", "error") for f in findings)

    return _run(HealthCheck.HEARTBEAT, body)


# --- configuration drift --------------------------------------------------------------------------


def drift_check() -> HealthCheckRun:
    """Read the configuration of every online charger that has a profile, compare, raise or clear its
    config_drift alert."""

    def body(run: HealthCheckRun) -> None:
        profiled = [(s, list(profiles_for_station(s))) for s in _online()]
        profiled = [(s, profiles) for s, profiles in profiled if profiles]
        outcomes = snapshots_take(
            stations=[s for s, _ in profiled], timeout=CHECK_TIMEOUT_S, requested_by=REQUESTED_BY
        )
        for (station, profiles), outcome in zip(profiled, outcomes, strict=True):
            if outcome.snapshot is None:
                run.errors += 1
                run.findings.append({"station": station.identity, "result": "error", "detail": outcome.error})
                continue
            problems = {
                profile.name: [
                    {"key": d.key, "expected": d.expected, "actual": d.actual, "result": d.result}
                    for d in drift_problems(
                        drift_compare(profile=profile, snapshot=outcome.snapshot, protocol=station.protocol)
                    )
                ]
                for profile in profiles
            }
            problems = {name: keys for name, keys in problems.items() if keys}
            key = f"config_drift:{station.identity}"
            run.checked += 1
            if problems:
                run.problems += 1
                count = sum(len(keys) for keys in problems.values())
                alert_raise(
                    kind=AlertKind.CONFIG_DRIFT,
                    key=key,
                    summary=f"{station.identity}: {count} configuration key(s) differ from its profile",
                    evidence={"check": "drift", "snapshot_id": outcome.snapshot.pk, "profiles": problems},
                    station=station,
                )
            else:
                alert_clear(key=key, reason="The configuration matches its profiles again.")
            run.findings.append(
                {"station": station.identity, "result": "drift" if problems else "ok", "profiles": problems}
            )

    return _run(HealthCheck.DRIFT, body)


# --- firmware behind the standard -----------------------------------------------------------------


def firmware_standard_for(station: Station, standards: list[FirmwareStandard]) -> FirmwareStandard | None:
    """The most specific standard for the charger: its site's before its organization's, then a named
    vendor and model before "any"."""
    if station.site is None:
        return None
    matching = [
        s
        for s in standards
        if s.organization_id == station.site.organization_id
        and s.site_id in (None, station.site_id)
        and (not s.vendor or s.vendor.lower() == station.vendor.lower())
        and (not s.model or s.model.lower() == station.model.lower())
    ]
    return max(matching, key=lambda s: (s.site_id is not None, bool(s.vendor), bool(s.model)), default=None)


def _firmware_station_check(station: Station, standards: list[FirmwareStandard]) -> dict[str, Any] | None:
    """Raise or clear the charger's firmware_behind alert; its finding (None: no standard applies)."""
    standard = firmware_standard_for(station, standards)
    key = f"firmware_behind:{station.identity}"
    finding: dict[str, Any] = {"station": station.identity, "version": station.firmware_version}
    if standard is None:
        alert_clear(key=key, reason="No firmware standard applies any more.")
        return None
    finding["minimum"] = standard.minimum_version
    if not station.firmware_version:
        return finding | {"result": "unknown"}
    if version_is_behind(station.firmware_version, standard.minimum_version):
        alert_raise(
            kind=AlertKind.FIRMWARE_BEHIND,
            key=key,
            summary=f"{station.identity} runs firmware {station.firmware_version}, "
            f"below {standard.minimum_version}",
            evidence={"check": "firmware", **finding, "standard_id": standard.pk},
            station=station,
        )
        return finding | {"result": "behind"}
    alert_clear(key=key, reason=f"Firmware {station.firmware_version} meets {standard.minimum_version}.")
    return finding | {"result": "ok"}


def firmware_check() -> HealthCheckRun:
    """Compare every charger's reported firmware version with its standard; raise or clear
    firmware_behind alerts."""

    def body(run: HealthCheckRun) -> None:
        standards = list(FirmwareStandard.objects.all())
        # Every charger of an organization, so that one whose standard was removed has its alert cleared.
        stations = Station.objects.filter(site__organization__isnull=False).select_related("site")
        for station in stations:
            finding = _firmware_station_check(station, standards)
            if finding is None:
                continue
            run.checked += 1
            run.errors += finding["result"] == "unknown"
            run.problems += finding["result"] == "behind"
            run.findings.append(finding)

    return _run(HealthCheck.FIRMWARE, body)


def firmware_station_check(*, station_id: int) -> None:
    """The firmware check for one charger that has just booted, with the version it reported: an update
    that brings it up to its standard closes the alert at once, not at the next daily run."""
    station = Station.objects.select_related("site").get(pk=station_id)
    if station.site is None or station.site.organization_id is None:
        return
    standards = list(FirmwareStandard.objects.filter(organization_id=station.site.organization_id))
    _firmware_station_check(station, standards)
