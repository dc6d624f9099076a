"""The admin of invoices; filled in by the billing work in progress."""

from __future__ import annotations
