"""What an open session has cost so far, by the same terms and rounding as its final price."""

from __future__ import annotations

import copy
from datetime import datetime

from billing.services.pricing import Breakdown, price_compute
from billing.services.session_times import session_idle_span, session_register
from billing.services.tariffs import tariff_for_session, tariff_terms
from stations.models import ChargingSession
from stations.services.access import site_zone


def session_cost_so_far(*, session: ChargingSession, at: datetime) -> Breakdown | None:
    """Price the session as if it stopped at `at` (its readings so far); None without a tariff."""
    if session.started_at is None:
        return None
    tariff = tariff_for_session(session)
    if tariff is None:
        return None
    # A copy ending at `at`, never saved: pricing reads the register and status up to its stop.
    probe = copy.copy(session)
    probe.stopped_at = max(at, session.started_at) if session.stopped_at is None else session.stopped_at
    if session.stopped_at is None:
        probe.meter_stop_wh = None
    terms = tariff_terms(tariff)
    register = session_register(probe)
    idle_from, idle_until = session_idle_span(
        probe, register=register, from_suspended_ev=terms.idle_from_suspended_ev
    )
    return price_compute(
        terms=terms,
        zone=site_zone(session.station.site),
        started_at=session.started_at,
        charging_until=idle_from,
        stopped_at=probe.stopped_at,
        register=register,
        # So far: an open session's idle time runs to `at` at most.
        idle_until=min(idle_until, probe.stopped_at) if session.stopped_at is None else idle_until,
    )
