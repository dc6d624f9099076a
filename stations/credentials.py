"""Charger passwords (OCPP security profiles 1 and 2, the AuthorizationKey), and the one-time tokens in
URLs chargers are sent to (log uploads, firmware downloads).

Keys are machine secrets of 16 to 40 bytes, so a salted SHA-256 is enough and keeps a reconnect storm
of thousands of chargers cheap; a slow password hash would cost ~0.3 s of CPU per handshake.
Keys are compared as bytes: the 1.6 security whitepaper allows binary AuthorizationKeys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 40


def password_hash(password: bytes) -> str:
    salt = secrets.token_hex(16)
    return f"sha256${salt}${hashlib.sha256(salt.encode() + password).hexdigest()}"


def password_matches(password: bytes, stored_hash: str) -> bool:
    try:
        algorithm, salt, digest = stored_hash.split("$")
    except ValueError:
        return False
    if algorithm != "sha256":
        return False
    candidate = hashlib.sha256(salt.encode() + password).hexdigest()
    return hmac.compare_digest(candidate, digest)


def password_generate() -> str:
    return secrets.token_urlsafe(24)[:32]


def password_validate(password: bytes) -> None:
    if not MIN_KEY_BYTES <= len(password) <= MAX_KEY_BYTES:
        raise ValueError(f"A charger password must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes long.")


def url_token_new() -> tuple[str, str]:
    """A one-time token for a URL handed to a charger, and the hash of it the CSMS keeps."""
    token = secrets.token_urlsafe(32)
    return token, url_token_hash(token)


def url_token_hash(token: str) -> str:
    """Unsalted, so that a request is found by it: 256 random bits need no salt."""
    return hashlib.sha256(token.encode()).hexdigest()


HIDDEN = "…"


def secrets_hidden(text: str, hidden: Iterable[str]) -> str:
    """The text as it may be stored: each of the secrets in it (a URL's one-time token) replaced by "…"."""
    for secret in hidden:
        if secret:
            text = text.replace(secret, HIDDEN)
    return text
