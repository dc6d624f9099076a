"""A stateful HTTP double of the Stripe API subset the gateway calls, for tests that must not reach Stripe.

It answers form-encoded requests the way api.stripe.com does for these endpoints: customers, setup
intents (create, confirm, retrieve), payment methods (attach, list, retrieve, detach), payment intents
(create with or without confirm, off-session, manual capture, capture of a part releasing the rest,
cancel, retrieve with `expand[]=latest_charge`), refunds and events. Errors have Stripe's JSON shape
and HTTP codes (402 card errors, 400 invalid requests and wrong states, 404 missing objects, 401 bad
keys); a repeated Idempotency-Key replays the first answer (errors included) and refuses other params.

Test payment methods behave like Stripe's test tokens: each use of `pm_card_visa` and friends makes a
new `pm_…` card. `pm_card_chargeDeclined` is refused on attach, setup and charge;
`pm_card_chargeCustomerFail` attaches but every charge is declined; `pm_card_authenticationRequired`
needs 3-D Secure on every payment (off-session: a 402 `authentication_required`); a payment with
`pm_card_createDispute` succeeds and is disputed at once.

State changes append events (`GET /v1/events`, newest first) shaped like Stripe's, which tests sign and
post to the webhook. Controls only a double has: `POST /_double/disputes/<id>/close` (status won or
lost), `POST /_double/payment_intents/<id>/expire` (an authorization that lapsed),
`POST /_double/payment_intents/<id>/authenticate` (result succeeded or failed: the driver's 3-D Secure),
`POST /_double/balance` (insufficient=true: new refunds wait as pending) and
`POST /_double/refunds/<id>/settle` (status succeeded, failed or canceled: what the bank did with it).

For browser tests it also serves a stand-in for Stripe.js at `GET /v3/` (tests/stripe_double/stripe_js.py),
answers CORS, and lets the browser confirm an intent with a publishable key and the intent's client
secret, as Stripe.js does.

This module is the HTTP side (form decoding, keys, idempotency, the threaded server); the endpoints are
in state.py (objects, events, errors, test cards), customers.py (customers, payment methods, setup
intents), payment_intents.py, refunds.py (refunds, disputes) and router.py (routes to endpoints).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.stripe_double.router import Api, dispatch
from tests.stripe_double.state import API_VERSION, State, StripeError
from tests.stripe_double.stripe_js import stripe_js


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's bracketed form encoding (`metadata[a]=1`, `expand[0]=x`) into dicts and lists."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"\[([^\]]*)\]|([^\[\]]+)", key)
        names = [inner or outer for inner, outer in parts]
        node = result
        for name in names[:-1]:
            node = node.setdefault(name, {})
        last = names[-1] if names[-1] else str(len(node))  # `a[]=x` appends
        node[last] = value
    return _lists_from_digits(result)


def _lists_from_digits(value: Any) -> Any:
    """Dicts keyed 0, 1, 2 … (how lists are form-encoded) become lists."""
    if not isinstance(value, dict):
        return value
    value = {key: _lists_from_digits(item) for key, item in value.items()}
    if value and all(key.isdigit() for key in value):
        return [value[key] for key in sorted(value, key=int)]
    return value


class Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_OPTIONS(self) -> None:  # a browser's CORS preflight
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _script(self) -> None:
        host, port = self.server.server_address[:2]
        data = stripe_js(f"http://{host}:{port}")
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        if method == "GET" and url.path in ("/v3", "/v3/"):
            self._script()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        pairs = parse_qsl(url.query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True)
        params = parse_form(pairs)
        state = self.server.state
        key = self.headers.get("Idempotency-Key")
        replayed = False
        with state.lock:
            state.requests.append((method, url.path, key))
            if url.path.startswith("/v1/") and not (
                self._authorized() or self._publishable(state, method, url.path, params)
            ):
                status, payload = 401, self._bad_key()
            elif method == "POST" and key and key in state.idempotency:
                fingerprint, status, payload = state.idempotency[key]
                replayed = True
                if fingerprint != f"{url.path}?{body}":
                    status, payload = (
                        400,
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with. Try using a key other than "
                                f"'{key}' if you meant to execute a different request.",
                            }
                        },
                    )
            else:
                try:
                    status, payload = 200, dispatch(Api(state), method, url.path, params)
                except StripeError as error:
                    status, payload = error.status, error.body
                except Exception as error:  # a bug in the double: answer as Stripe does to its own bugs
                    status, payload = 500, {"error": {"type": "api_error", "message": repr(error)}}
                if method == "POST" and key:
                    state.idempotency[key] = (f"{url.path}?{body}", status, json.loads(json.dumps(payload)))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
        self.send_header("Stripe-Version", API_VERSION)
        self.send_header("Access-Control-Allow-Origin", "*")
        if key:
            self.send_header("Idempotency-Key", key)
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return token == self.server.api_key

    @staticmethod
    def _publishable(state: State, method: str, path: str, params: dict[str, Any]) -> bool:
        """Stripe.js confirms an intent with the publishable key and the intent's client secret."""
        match = re.fullmatch(r"/v1/(payment_intents|setup_intents)/([^/]+)/confirm", path)
        if method != "POST" or match is None or not str(params.get("key", "")).startswith("pk_"):
            return False
        intent = state.objects.get(match.group(2))
        return intent is not None and intent.get("client_secret") == params.get("client_secret")

    def _bad_key(self) -> dict[str, Any]:
        return {
            "error": {
                "type": "invalid_request_error",
                "message": "Invalid API Key provided: "
                + self.headers.get("Authorization", "").removeprefix("Bearer ")[:8]
                + "****",
            }
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: State
    api_key: str


class StripeDouble:
    """The double on a free loopback port, in a thread; `url` is what STRIPE_API_BASE points at."""

    def __init__(self, api_key: str = "sk_test_double") -> None:
        self.api_key = api_key
        self.state = State()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.state = self.state
        self._server.api_key = api_key
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-double", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StripeDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests read ---------------------------------------------------------------------------
    def objects(self, kind: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [o for o in self.state.objects.values() if o["object"] == kind]

    def get(self, object_id: str) -> dict[str, Any]:
        with self.state.lock:
            return json.loads(json.dumps(self.state.objects[object_id]))

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """The events so far, oldest first (as Stripe would deliver them, give or take order)."""
        with self.state.lock:
            return [json.loads(json.dumps(e)) for e in self.state.events if type_ in (None, e["type"])]

    def last_event(self, type_: str) -> dict[str, Any]:
        found = self.events(type_)
        assert found, f"the double emitted no {type_} event"
        return found[-1]
