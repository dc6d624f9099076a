"""The billing admin: tariffs, payments, invoices and reports, scoped by organization."""

from __future__ import annotations

from billing.admin import invoices, payments, tariffs

__all__ = ["invoices", "payments", "tariffs"]
