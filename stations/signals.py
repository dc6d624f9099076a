"""Signals other apps (billing, energy) listen to; sent after the transaction commits."""

from __future__ import annotations

from django.dispatch import Signal

# session_id: the ChargingSession primary key
session_ended = Signal()
