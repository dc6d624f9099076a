from __future__ import annotations


class FirmwareError(Exception):
    """A firmware file or campaign request that cannot be carried out; the message says why."""
