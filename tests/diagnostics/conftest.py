"""Requests waiting for an upload, and a private upload directory per test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from stations.credentials import url_token_hash
from stations.diagnostics.domain import DiagnosticsStatus
from stations.diagnostics.models import DiagnosticsRequest
from stations.models import Station
from tests.factories import StationFactory


@pytest.fixture(autouse=True)
def diagnostics_dir(settings, tmp_path):
    settings.CSMS_DIAGNOSTICS_DIR = str(tmp_path / "diagnostics")
    return tmp_path / "diagnostics"


@pytest.fixture
def pending() -> Callable[..., DiagnosticsRequest]:
    """A request the charger accepted, waiting for its upload under `token`."""

    def make(token: str, station: Station | None = None, **fields: Any) -> DiagnosticsRequest:
        return DiagnosticsRequest.objects.create(
            station=station or StationFactory(),
            token_hash=url_token_hash(token),
            upload_url=f"http://csms.test/diagnostics/upload/{token}/",
            expires_at=fields.pop("expires_at", timezone.now() + timedelta(hours=1)),
            status=fields.pop("status", DiagnosticsStatus.ACCEPTED),
            **fields,
        )

    return make
