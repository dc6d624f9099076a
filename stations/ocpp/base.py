"""What every OCPP version's adapter shares: dispatch, validation, journal, persist-before-reply."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import transaction
from django.utils import timezone

from stations.domain import MeterReading, MeterSampleData
from stations.models import Direction
from stations.ocpp import framing
from stations.ocpp.framing import Call, CallError, CallResult, ErrorKind, FrameError
from stations.ocpp.validation import validate_payload
from stations.services import registry, sessions
from stations.services.journal import FrameRecord, frames_record
from stations.services.registry import station_seen

if TYPE_CHECKING:  # profiles imports this module
    from stations.ocpp.profiles import ProfileLimit, ProfilePurpose

logger = logging.getLogger(__name__)

# Chargers that talk keep `last_seen_at` fresh; writing it more often than this buys nothing.
SEEN_WRITE_INTERVAL_S = 30


@dataclass
class Processed:
    """The outcome of one incoming frame: the reply to send, or a response to an outgoing call, and
    the journal rows to write with it."""

    reply: str | None = None
    response: CallResult | CallError | None = None
    records: list[FrameRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Received:
    """A valid call from the charger, ready for its handler."""

    call: Call
    inbound: FrameRecord
    handler: Callable[[dict[str, Any]], dict[str, Any]]


def parse_timestamp(value: str, field_name: str = "timestamp") -> datetime:
    """Parse an OCPP dateTime; one without an offset is taken as UTC, as chargers mean it."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise FrameError(
            ErrorKind.PROPERTY, f"{field_name}: {value!r} is not an RFC 3339 date-time."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


SampledNumber = Callable[[dict[str, Any]], tuple[Decimal, str] | None]


def meter_reading(meter_values: list[dict[str, Any]], number: SampledNumber) -> MeterReading:
    """Flatten meterValue[] into samples, with the defaults both versions' specifications give;
    `number` reads a sampledValue's value and unit as its version writes them (None: not a number)."""
    reading = MeterReading()
    for meter_value in meter_values:
        sampled_at = parse_timestamp(meter_value["timestamp"], "meterValue/timestamp")
        for sampled in meter_value["sampledValue"]:
            read = number(sampled)
            if read is None or not read[0].is_finite():
                continue  # not a number we can store: the frame stays in the journal
            value, unit = read
            reading.samples.append(
                MeterSampleData(
                    sampled_at=sampled_at,
                    value=value,
                    measurand=sampled.get("measurand", "Energy.Active.Import.Register"),
                    unit=unit,
                    phase=sampled.get("phase", ""),
                    context=sampled.get("context", "Sample.Periodic"),
                    location=sampled.get("location", ""),
                )
            )
    return reading


def answer_integer(answer: dict[str, Any], key: str) -> int | None:
    """An integer field of a charger's answer, or None if it is missing or not an integer."""
    value = answer.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ProtocolAdapter:
    """One instance per connection. Subclasses map their version's messages onto the services."""

    subprotocol: ClassVar[str]
    schema_version: ClassVar[str]
    error_codes: ClassVar[dict[str, str]]
    handlers: ClassVar[dict[str, str]]  # charger-initiated action -> method name
    csms_actions: ClassVar[frozenset[str]]  # actions the CSMS may send
    # Actions refused with SecurityError until the charger's registration is accepted.
    needs_acceptance: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, identity: str, station_id: int, accepted: bool) -> None:
        self.identity = identity
        self.station_id = station_id
        self.accepted = accepted
        self._seen_written_at = 0.0
        # Sessions by transaction id (str) or open on an EVSE (int), to spare a lookup per MeterValues.
        # Sessions start and stop only through this connection's messages; forgotten on any failure,
        # in case one it names was deleted meanwhile.
        self.sessions_known: dict[str | int, int | None] = {}

    # --- incoming -------------------------------------------------------------------------------
    def process(self, text: str) -> Processed:
        """Handle one text frame in its own transaction; any failure becomes a CallError. The journal
        is written and everything is committed before the reply is returned."""
        received = self.receive(text)
        if isinstance(received, Processed):
            self._journal_safely(received.records)
            return received
        try:
            with transaction.atomic():
                processed = self.respond(received)
                frames_record(records=processed.records)
            return processed
        except FrameError as error:
            self.forget()
            error.unique_id = received.call.unique_id
            return self._refuse(error, received.inbound, received.call.action, journal=True)
        except Exception:
            logger.exception("%s: %s failed", self.identity, received.call.action)
            self.forget()
            internal = FrameError(
                ErrorKind.INTERNAL,
                f"The CSMS could not process {received.call.action}.",
                received.call.unique_id,
            )
            return self._refuse(internal, received.inbound, received.call.action, journal=True)

    def receive(self, text: str) -> Received | Processed:
        """Parse and validate a frame, without the database: a call for its handler, or the finished
        outcome of anything else (a CallError to send, a response to one of our calls)."""
        received_at = timezone.now()
        try:
            frame = framing.parse(text)
        except FrameError as error:
            return self._refuse(error, FrameRecord(self.identity, Direction.IN, text, at=received_at))
        inbound = FrameRecord(
            self.identity,
            Direction.IN,
            text,
            frame.message_type,
            frame.unique_id,
            getattr(frame, "action", ""),
            received_at,
        )
        if not isinstance(frame, Call):
            return Processed(response=frame, records=[inbound])
        try:
            handler = self._handler_for(frame)
            validate_payload(
                version=self.schema_version,
                message_type=framing.CALL,
                action=frame.action,
                payload=frame.payload,
                unique_id=frame.unique_id,
            )
        except FrameError as error:
            error.unique_id = frame.unique_id
            return self._refuse(error, inbound, frame.action)
        return Received(frame, inbound, handler)

    def respond(self, received: Received) -> Processed:
        """Run the call's handler inside the caller's transaction, which also writes the returned
        journal rows. A failure propagates: the handler may have written part of its work."""
        call = received.call
        result = received.handler(call.payload)
        validate_payload(
            version=self.schema_version,
            message_type=framing.CALLRESULT,
            action=call.action,
            payload=result,
            unique_id=call.unique_id,
        )
        reply = framing.build_result(call.unique_id, result)
        self.touch(received.inbound.at or timezone.now())
        return Processed(
            reply=reply, records=[received.inbound, self._outbound(reply, framing.CALLRESULT, call)]
        )

    def forget(self) -> None:
        """Drop what this connection remembers of the database: the failed transaction may have
        created, or a meanwhile deleted row may have removed, what it names."""
        self.sessions_known.clear()
        registry.connector_pk.cache_clear()

    def _handler_for(self, call: Call) -> Callable[[dict[str, Any]], dict[str, Any]]:
        name = self.handlers.get(call.action)
        if name is None:
            if call.action in self.csms_actions:
                raise FrameError(
                    ErrorKind.NOT_SUPPORTED, f"{call.action} is sent by the CSMS, not by chargers."
                )
            raise FrameError(ErrorKind.NOT_IMPLEMENTED, f"Unknown action {call.action!r}.")
        if not self.accepted and call.action in self.needs_acceptance:
            raise FrameError(ErrorKind.SECURITY, "This charger's registration has not been accepted.")
        return getattr(self, name)

    def _refuse(
        self, error: FrameError, inbound: FrameRecord, action: str = "", *, journal: bool = False
    ) -> Processed:
        code = self.error_codes[error.kind]
        reply = framing.build_error(error.unique_id, code, error.description, error.details)
        outbound = FrameRecord(
            self.identity, Direction.OUT, reply, framing.CALLERROR, error.unique_id, action
        )
        processed = Processed(reply=reply, records=[inbound, outbound])
        if journal:
            self._journal_safely(processed.records)
        return processed

    def _journal_safely(self, records: list[FrameRecord]) -> None:
        try:
            frames_record(records=records)
        except Exception:  # the database is failing: the charger still gets its answer, and retries
            logger.exception("%s: the journal could not record a frame", self.identity)

    def _outbound(self, text: str, message_type: int, call: Call) -> FrameRecord:
        return FrameRecord(self.identity, Direction.OUT, text, message_type, call.unique_id, call.action)

    def session_id(self, *, evse_id: int, external_id: str | None) -> int | None:
        key: str | int = external_id if external_id is not None else evse_id
        if key not in self.sessions_known:
            self.sessions_known[key] = sessions.session_id_find(
                station_id=self.station_id, external_id=external_id, evse_id=evse_id
            )
        return self.sessions_known[key]

    def touch(self, at: datetime) -> None:
        now = at.timestamp()
        if now - self._seen_written_at >= SEEN_WRITE_INTERVAL_S:
            station_seen(station_id=self.station_id, at=at)
            self._seen_written_at = now

    # --- outgoing -------------------------------------------------------------------------------
    @classmethod
    def local_list_version_call(cls) -> tuple[str, dict[str, Any]]:
        """GetLocalListVersion: the same empty request in every version."""
        return "GetLocalListVersion", {}

    @classmethod
    def remote_start_call(cls, *, evse_id: int | None, id_tag: str) -> tuple[str, dict[str, Any]]:
        """The call that asks the charger to start a session for an id tag, on an EVSE or (None) the
        one the charger chooses."""
        raise NotImplementedError

    @classmethod
    def remote_stop_call(cls, external_id: str) -> tuple[str, dict[str, Any]] | None:
        """The call that asks the charger to stop a session, or None if this id cannot name one."""
        raise NotImplementedError

    # Smart charging: each version sets these to its builders and readers in stations/ocpp/profiles.py.
    @staticmethod
    def charging_profile_call(limit: ProfileLimit) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    @staticmethod
    def clear_charging_profile_call(
        *, profile_id: int | None = None, evse_id: int | None = None, purpose: ProfilePurpose | None = None
    ) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    @staticmethod
    def composite_schedule_call(*, evse_id: int, duration_s: int = 60) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    @staticmethod
    def composite_limit(answer: dict[str, Any]) -> Decimal | None:
        raise NotImplementedError

    @classmethod
    def encode_call(cls, unique_id: str, action: str, payload: dict[str, Any]) -> str:
        """Validate a CSMS-initiated call and frame it."""
        if action not in cls.csms_actions:
            raise FrameError(ErrorKind.NOT_SUPPORTED, f"{action} is not a {cls.subprotocol} CSMS action.")
        validate_payload(
            version=cls.schema_version,
            message_type=framing.CALL,
            action=action,
            payload=payload,
            unique_id=unique_id,
        )
        return framing.build_call(unique_id, action, payload)

    def record_outgoing(self, text: str, unique_id: str, action: str) -> None:
        frames_record(
            records=[FrameRecord(self.identity, Direction.OUT, text, framing.CALL, unique_id, action)]
        )
