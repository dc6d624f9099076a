"""Pytest fixtures: the Stripe double on a free port, and settings pointing the gateway at it.

Test modules import these names (pytest finds fixtures imported into a module)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from tests.stripe_double.server import StripeDouble

__all__ = ["post_event", "stripe_api", "stripe_double"]

SECRET_KEY = "sk_test_double_0123456789"
WEBHOOK_SECRET = "whsec_test_double"


@pytest.fixture
def stripe_double(settings: Any) -> Iterator[StripeDouble]:
    """A fresh double per test, with the settings that switch payments on and point at it."""
    double = StripeDouble(api_key=SECRET_KEY).start()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_double"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = double.url
    settings.STRIPE_JS_URL = f"{double.url}/v3/"
    yield double
    double.stop()


@pytest.fixture
def stripe_api(stripe_double: StripeDouble) -> stripe.StripeClient:
    """The stripe library pointed at the double, for what Stripe.js or the dashboard would do."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": stripe_double.url}, max_network_retries=0)


def signed(
    event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[str, str]:
    """The body and Stripe-Signature header Stripe would send for `event`."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=timestamp or int(time.time())
    )
    return body, header


@pytest.fixture
def post_event(client: Any) -> Callable[..., Any]:
    """POST an event to the webhook, signed like Stripe does."""

    def post(event: dict[str, Any], **kwargs: Any) -> Any:
        body, header = signed(event, **kwargs)
        return client.post(
            "/billing/stripe/webhook/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        )

    return post
