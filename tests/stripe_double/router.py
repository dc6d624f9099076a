"""The API as one object, and the routes from method and path to its endpoints."""

from __future__ import annotations

import re
from typing import Any

from tests.stripe_double.customers import CustomersApi
from tests.stripe_double.payment_intents import PaymentIntentsApi
from tests.stripe_double.refunds import RefundsApi
from tests.stripe_double.state import StripeError


class Api(CustomersApi, PaymentIntentsApi, RefundsApi):
    """The endpoints, on one State; each returns the JSON body or raises a StripeError."""

    def expand(self, obj: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        wanted = p.get("expand", [])
        if not wanted:
            return obj
        out = dict(obj)
        for path in wanted:
            value = out.get(path)
            if isinstance(value, str) and value in self.s.objects:
                out[path] = self.s.objects[value]
        return out


ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/v1/customers", "customer_create"),
    ("GET", r"/v1/customers/(?P<id>[^/]+)", "customer_get"),
    ("GET", r"/v1/customers/(?P<id>[^/]+)/payment_methods", "customer_payment_methods"),
    ("POST", r"/v1/setup_intents", "setup_intent_create"),
    ("GET", r"/v1/setup_intents/(?P<id>[^/]+)", "setup_intent_get"),
    ("POST", r"/v1/setup_intents/(?P<id>[^/]+)/confirm", "setup_intent_confirm"),
    ("GET", r"/v1/payment_methods", "payment_method_list"),
    ("GET", r"/v1/payment_methods/(?P<id>[^/]+)", "payment_method_get"),
    ("POST", r"/v1/payment_methods/(?P<id>[^/]+)/attach", "payment_method_attach"),
    ("POST", r"/v1/payment_methods/(?P<id>[^/]+)/detach", "payment_method_detach"),
    ("POST", r"/v1/payment_intents", "payment_intent_create"),
    ("GET", r"/v1/payment_intents/(?P<id>[^/]+)", "payment_intent_get"),
    ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/confirm", "payment_intent_confirm"),
    ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/capture", "payment_intent_capture"),
    ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/cancel", "payment_intent_cancel"),
    ("POST", r"/v1/refunds", "refund_create"),
    ("GET", r"/v1/refunds", "refund_list"),
    ("GET", r"/v1/refunds/(?P<id>[^/]+)", "refund_get"),
    ("GET", r"/v1/charges/(?P<id>[^/]+)", "charge_get"),
    ("GET", r"/v1/events", "event_list"),
    ("POST", r"/_double/disputes/(?P<id>[^/]+)/close", "dispute_close"),
    ("POST", r"/_double/balance", "balance_set"),
    ("POST", r"/_double/refunds/(?P<id>[^/]+)/settle", "refund_settle"),
    ("POST", r"/_double/payment_intents/(?P<id>[^/]+)/expire", "payment_intent_expire"),
    ("POST", r"/_double/payment_intents/(?P<id>[^/]+)/authenticate", "payment_intent_authenticate"),
]
GETTERS = {
    "customer_get": ("Customer", "cus"),
    "setup_intent_get": ("SetupIntent", "seti"),
    "payment_method_get": ("PaymentMethod", "pm"),
    "payment_intent_get": ("PaymentIntent", "pi"),
    "refund_get": ("Refund", "re"),
    "charge_get": ("Charge", "ch"),
}


def dispatch(api: Api, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    for verb, pattern, name in ROUTES:
        match = re.fullmatch(pattern, path)
        if verb != method or match is None:
            continue
        object_id = match.groupdict().get("id")
        if name in GETTERS:
            return api.expand(api.s.get(*GETTERS[name], object_id or ""), params)
        if name == "customer_payment_methods":
            return api.payment_method_list({**params, "customer": object_id})
        if name == "event_list":
            limit = int(params.get("limit", 100))
            events = [e for e in reversed(api.s.events) if params.get("type") in (None, e["type"])]
            return {
                "object": "list",
                "url": "/v1/events",
                "has_more": len(events) > limit,
                "data": events[:limit],
            }
        if name == "payment_intent_expire":
            return api.payment_intent_cancel(object_id or "", {}, reason="automatic")
        handler = getattr(api, name)
        result = handler(object_id, params) if object_id is not None else handler(params)
        return api.expand(result, params)
    raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")
