"""The admin of tariffs; filled in by the billing work in progress."""

from __future__ import annotations
