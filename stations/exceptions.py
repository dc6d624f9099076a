from __future__ import annotations


class StationError(Exception):
    """Base of the errors the stations services raise."""


class StationNotFound(StationError):
    pass


class StationOffline(StationError):
    pass


class CallTimeout(StationError):
    pass


class CallRejected(StationError):
    """The charger answered a CSMS-initiated call with a CALLERROR."""

    def __init__(self, code: str, description: str, details: object = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code, self.description, self.details = code, description, details


class InvalidCall(StationError):
    """The call cannot be sent: unknown action or a payload its schema rejects."""
