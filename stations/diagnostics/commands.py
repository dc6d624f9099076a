"""The admin's "Request diagnostics / log" command on chargers, registered in stations.admin_commands."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from stations.admin_commands import Command, CommandForm, Outcome
from stations.diagnostics.domain import DiagnosticsStatus, LogKind
from stations.diagnostics.services import diagnostics_request
from stations.exceptions import StationError
from stations.models import Station


class DiagnosticsForm(CommandForm):
    kind = forms.ChoiceField(
        label="Log",
        choices=LogKind.choices,
        initial=LogKind.DIAGNOSTICS,
        help_text="An OCPP 1.6 charger provides the security log only with the security extension (GetLog).",
    )
    since = forms.DateTimeField(label="Oldest entry", required=False)
    until = forms.DateTimeField(label="Latest entry", required=False)
    retries = forms.IntegerField(label="Upload retries", required=False, min_value=0, max_value=10)
    upload_base_url = forms.URLField(
        assume_scheme="https",
        label="CSMS address for the upload",
        help_text="As the chargers reach the CSMS over HTTP; the upload URL adds a one-time token to it.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["upload_base_url"].initial = settings.CSMS_DIAGNOSTICS_UPLOAD_URL

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise forms.ValidationError("The oldest entry must come before the latest.")
        return data


def diagnostics_run(station: Station, data: dict[str, Any], requested_by: str) -> Outcome:
    try:
        request = diagnostics_request(
            station=station,
            kind=data["kind"],
            since=data.get("since"),
            until=data.get("until"),
            retries=data.get("retries"),
            requested_by=requested_by,
            upload_base_url=data["upload_base_url"],
            timeout=float(data["timeout_s"]),
        )
    except StationError as error:
        return Outcome(station.identity, "", "error", f"{station.identity}: {error}")
    if request.status == DiagnosticsStatus.REJECTED:
        level, outcome = "warning", "rejected by the charger"
    elif request.status == DiagnosticsStatus.FAILED:
        level, outcome = "error", "failed"
    else:
        level, outcome = "success", "accepted by the charger"
        if request.status != DiagnosticsStatus.ACCEPTED:  # the upload may be under way, or done, already
            outcome += f", now {request.get_status_display().lower()}"
    text = f"{request.get_kind_display()} of {station.identity}: {outcome}"
    text += f" ({request.status_info})." if request.status_info else "."
    return Outcome(station.identity, "", level, text)


COMMAND = Command("Request diagnostics / log", DiagnosticsForm, run=diagnostics_run)
