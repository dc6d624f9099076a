from __future__ import annotations


class UploadRefused(Exception):
    """An upload that does not match a pending request; `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason
