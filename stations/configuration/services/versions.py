"""Compare firmware versions as people read them: 1.10 is after 1.9, 2.0.0-rc1 before 2.0.0."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

_PARTS = re.compile(r"(\d+)|([A-Za-z]+)")


def _natural_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Numbers compare as numbers and words as lowercase text, a word before any number (1.2.beta <
    1.2.0); separators (. - _ +) only separate."""
    return tuple(
        (1, int(number), "") if number else (0, 0, word.lower()) for number, word in _PARTS.findall(version)
    )


def version_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is before, the same as or after `b`.

    Versions both readable as PEP 440 (1.10, 2.0.0rc1, v3.1) compare by packaging's rules; vendor
    strings such as "V1.2.3-build45" or "R2023.11_b7" fall back to a natural order of their numbers
    and words."""
    try:
        left, right = Version(a), Version(b)
    except InvalidVersion:
        left_key, right_key = _natural_key(a), _natural_key(b)
        return (left_key > right_key) - (left_key < right_key)
    return (left > right) - (left < right)


def version_is_behind(version: str, minimum: str) -> bool:
    return version_compare(version, minimum) < 0
