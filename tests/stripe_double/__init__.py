"""A local, stateful HTTP double of the part of Stripe's API that billing/payments/stripe.py calls."""

from __future__ import annotations

from tests.stripe_double.server import StripeDouble

__all__ = ["StripeDouble"]
