"""The charger's configuration keys (OCPP 1.6 section 9), kept in memory, for Get/ChangeConfiguration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stations.simulator.meter import SUPPORTED_MEASURANDS

Check = Callable[[str], bool]


def _integer(value: str) -> bool:
    return value.isdigit() and int(value) < 2**31


def _boolean(value: str) -> bool:
    return value.lower() in ("true", "false")


def _measurands(value: str) -> bool:
    return all(item.strip() in SUPPORTED_MEASURANDS for item in value.split(",") if item.strip())


def _anything(value: str) -> bool:
    return True


@dataclass
class Key:
    value: str
    readonly: bool = False
    check: Check = _anything
    reboot_required: bool = False


class Configuration:
    """Configuration keys with their 1.6 types; unknown keys are NotSupported, as the specification says."""

    def __init__(self, *, connectors: int, heartbeat_interval_s: int, meter_interval_s: int) -> None:
        self.keys: dict[str, Key] = {
            "AuthorizeRemoteTxRequests": Key("false", check=_boolean),
            "AuthorizationCacheEnabled": Key("false", check=_boolean),
            "ChargeProfileMaxStackLevel": Key("8", readonly=True),
            "ChargingScheduleAllowedChargingRateUnit": Key("Current,Power", readonly=True),
            "ChargingScheduleMaxPeriods": Key("24", readonly=True),
            "ClockAlignedDataInterval": Key("0", check=_integer),
            "ConnectionTimeOut": Key("60", check=_integer),
            "ConnectorPhaseRotation": Key(",".join(f"{n}.RST" for n in range(connectors + 1))),
            "GetConfigurationMaxKeys": Key("50", readonly=True),
            "HeartbeatInterval": Key(str(heartbeat_interval_s), check=_integer),
            "LocalAuthListEnabled": Key("true", check=_boolean),
            "LocalAuthListMaxLength": Key("1000", readonly=True),
            "LocalAuthorizeOffline": Key("true", check=_boolean),
            "LocalPreAuthorize": Key("false", check=_boolean),
            "MaxChargingProfilesInstalled": Key("20", readonly=True),
            "MeterValuesAlignedData": Key("Energy.Active.Import.Register", check=_measurands),
            "MeterValuesSampledData": Key(
                "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC",
                check=_measurands,
            ),
            "MeterValueSampleInterval": Key(str(meter_interval_s), check=_integer),
            "NumberOfConnectors": Key(str(connectors), readonly=True),
            "ResetRetries": Key("1", check=_integer),
            "SendLocalListMaxLength": Key("100", readonly=True),
            "StopTransactionOnEVSideDisconnect": Key("true", check=_boolean),
            "StopTransactionOnInvalidId": Key("true", check=_boolean),
            "StopTxnAlignedData": Key("", check=_measurands),
            "StopTxnSampledData": Key("Energy.Active.Import.Register", check=_measurands),
            "SupportedFeatureProfiles": Key(
                "Core,FirmwareManagement,LocalAuthListManagement,RemoteTrigger,SmartCharging", readonly=True
            ),
            "TransactionMessageAttempts": Key("3", check=_integer),
            "TransactionMessageRetryInterval": Key("60", check=_integer),
            "UnlockConnectorOnEVSideDisconnect": Key("true", check=_boolean),
            "WebSocketPingInterval": Key("0", check=_integer, reboot_required=True),
        }

    def get(self, name: str) -> str:
        return self.keys[name].value

    def integer(self, name: str) -> int:
        return int(self.keys[name].value)

    def flag(self, name: str) -> bool:
        return self.keys[name].value.lower() == "true"

    def csl(self, name: str) -> list[str]:
        return [item.strip() for item in self.keys[name].value.split(",") if item.strip()]

    def change(self, name: str, value: str) -> str:
        """Apply a ChangeConfiguration; return its 1.6 status."""
        key = self.keys.get(name)
        if key is None:
            return "NotSupported"
        if key.readonly or not key.check(value):
            return "Rejected"
        key.value = value
        return "RebootRequired" if key.reboot_required else "Accepted"

    def report(self, names: list[str] | None) -> dict[str, Any]:
        """Answer a GetConfiguration: the known keys asked for (all when none are named), then the unknown."""
        wanted = names if names else list(self.keys)
        found = [
            {"key": n, "readonly": self.keys[n].readonly, "value": self.keys[n].value}
            for n in wanted
            if n in self.keys
        ]
        unknown = [n for n in wanted if n not in self.keys]
        answer: dict[str, Any] = {}
        if found:
            answer["configurationKey"] = found
        if unknown:
            answer["unknownKey"] = unknown
        return answer
