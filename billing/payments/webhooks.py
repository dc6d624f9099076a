"""The payment provider's webhook: POST /billing/stripe/webhook/.

Answers: 400 when the signature is forged, stale (over 5 minutes) or the body is not an event; 200
once the event is handled, ignored (not ours) or was handled before (a replay does nothing); 500 when
handling failed (the provider unreachable, a bug), so that Stripe delivers the event again (it retries
for three days) and the stored event, marked failed, is handled again then. 404 while card payments
are not configured.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.domain import PaymentEventStatus
from billing.payments.base import InvalidWebhook, gateway
from billing.services.payment_events import payment_webhook_receive


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify a Stripe event against the raw body, store it once and handle it."""
    gw = gateway()
    if gw is None:
        return HttpResponse("Card payments are not configured.", status=404, content_type="text/plain")
    try:
        event = gw.webhook_verify(body=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except InvalidWebhook as error:
        return HttpResponse(str(error), status=400, content_type="text/plain")
    record = payment_webhook_receive(event=event)
    if record.status == PaymentEventStatus.FAILED:
        return HttpResponse(f"Failed, deliver again: {record.error}", status=500, content_type="text/plain")
    return HttpResponse(f"{record.event_id}: {record.status}", content_type="text/plain")
