"""Signals other apps (billing, energy) listen to; sent after the transaction commits."""

from __future__ import annotations

from django.dispatch import Signal

# session_id: the ChargingSession primary key
session_ended = Signal()
# session_id, station_id: a session opened with its start known (a repeated start sends nothing)
session_started = Signal()
# station_id, reason ("socket closed" or "heartbeat overdue"), at: the charger's socket closed, or it
# was marked offline after a silence
station_disconnected = Signal()
# station_id: the charger booted and its registration is accepted (BootNotification)
station_booted = Signal()
# station_id, evse_id, session_id, current_a (Decimal: the highest phase's Current.Import in the
# message), sampled_at: a meter reading of a session that measured the current
meter_sampled = Signal()
# station_id, evse_id, connector_id (the charger's numbers), connector_pk, unplugged_at: a connector
# reported Available (the car is gone), also a report queued while offline
connector_unplugged = Signal()
# station_id, at: a charger's WebSocket connection was admitted
station_connected = Signal()
# station_id, connector_pk (None: the whole charger), status, occurred_at: a status report was recorded
connector_status_changed = Signal()
# station_id, session_id: a MeterValues message of a session was stored
meter_recorded = Signal()
# station_id, status (RegistrationStatus): the answer given to a BootNotification, whatever it was
station_boot_answered = Signal()
# identity, station_id (None for an unknown identity), unknown (bool): a handshake refused for its
# identity or credentials
station_refused = Signal()
