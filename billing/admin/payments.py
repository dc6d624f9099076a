"""The admin of payments; filled in by the billing work in progress."""

from __future__ import annotations
