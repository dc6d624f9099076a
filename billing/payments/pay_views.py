"""Paying at a charger: the connector's page (reached by its QR code), the hold in Stripe's Payment
Element, the page Stripe returns to, the payment's progress page, and the QR codes to print."""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from billing.domain import PaymentMethodKind, PaymentStatus
from billing.models import Payment
from billing.payments.base import PaymentError, ProviderRejected, ProviderUnavailable
from billing.services.card_hold import (
    HoldNotFound,
    HoldNotOffered,
    card_hold_client_secret,
    card_hold_confirm,
    card_hold_session,
    card_hold_start,
)
from billing.services.card_hold_offer import card_hold_offer
from billing.services.invoicing import invoice_for_session
from billing.templatetags.billing_prices import price_parts, unit_price
from csms.tenancy_admin import scoped
from stations.models import Connector, Station
from stations.services.access import site_zone

UNAVAILABLE = "The card service is not reachable just now. Please try again in a few minutes."
# While a payment's session is starting or running its page reloads itself this often.
REFRESH_S = 5


def _station(identity: str) -> Station:
    return get_object_or_404(Station.objects.select_related("site"), identity=identity)


@require_safe
def pay_page(request: HttpRequest, identity: str, evse_id: int) -> HttpResponse:
    """The connector's page: its state, the price, the hold, and the button to pay and charge."""
    station = _station(identity)
    user = request.user if request.user.is_authenticated else None
    now = timezone.now()
    offer = card_hold_offer(station=station, evse_id=evse_id, user=user, at=now)
    context: dict[str, object] = {"offer": offer, "station": station}
    if offer.preview is not None:
        zone = site_zone(station.site) if station.site is not None else timezone.get_current_timezone()
        context["price_parts"], context["price_note"] = price_parts(offer.preview, now=now, zone=zone)
        context["hold"] = unit_price(offer.hold_amount, offer.preview.currency)
    return render(request, "billing/pay.html", context)


@require_POST
@login_required
def pay_start(request: HttpRequest, identity: str, evse_id: int) -> HttpResponse:
    """Open the hold and go to the page where the driver authorizes it."""
    station = _station(identity)
    try:
        payment, _ = card_hold_start(station=station, evse_id=evse_id, user=request.user)
    except HoldNotOffered as error:
        messages.error(request, str(error))
        return redirect("billing:pay", identity=identity, evse_id=evse_id)
    except PaymentError:
        messages.error(request, UNAVAILABLE)
        return redirect("billing:pay", identity=identity, evse_id=evse_id)
    return redirect("billing:payment_status", payment_id=payment.pk)


def _own_payment(request: HttpRequest, payment_id: int) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related("station__site", "session"),
        pk=payment_id,
        user=request.user,
        method=PaymentMethodKind.CARD_HOLD,
    )


@require_safe
@login_required
def payment_status(request: HttpRequest, payment_id: int) -> HttpResponse:
    """A payment at a charger: the card form while unauthorized, then starting, charging, paid."""
    payment = _own_payment(request, payment_id)
    session = card_hold_session(payment=payment)
    context: dict[str, object] = {
        "payment": payment,
        "session": session,
        "refresh_s": 0,
        "hold": unit_price(payment.amount_authorized, payment.currency),
        "captured": unit_price(payment.amount_captured, payment.currency),
    }
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION):
        try:
            secret = card_hold_client_secret(payment=payment)
        except PaymentError:
            messages.error(request, UNAVAILABLE)
            secret = ""
        context["stripe_js_url"] = settings.STRIPE_JS_URL
        context["stripe"] = {
            "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
            "clientSecret": secret,
            "returnUrl": request.build_absolute_uri(
                reverse("billing:payment_return", kwargs={"payment_id": payment.pk})
            ),
        }
        context["state"] = "authorize"
    elif payment.status == PaymentStatus.AUTHORIZED:
        context["state"] = "charging" if session is not None and session.stopped_at is None else "starting"
        if session is not None and session.stopped_at is not None:
            context["state"] = "billing"
        context["refresh_s"] = REFRESH_S
    elif payment.status == PaymentStatus.CANCELED:
        context["state"] = "released"
    else:
        context["state"] = "paid"
    if session is not None and session.stopped_at is not None:
        context["invoice"] = invoice_for_session(session)
    return render(request, "billing/pay_status.html", context)


@require_safe
@login_required
def payment_return(request: HttpRequest, payment_id: int) -> HttpResponse:
    """Where Stripe sends the driver back: check the hold with Stripe, and start the charger if held."""
    payment = _own_payment(request, payment_id)
    reference = request.GET.get("payment_intent", "")
    if reference != payment.provider_reference:
        raise Http404("No such payment.")
    try:
        payment = card_hold_confirm(provider_reference=reference, user=request.user)
    except (HoldNotFound, ProviderRejected) as error:
        raise Http404("No such payment.") from error
    except ProviderUnavailable:
        messages.error(request, UNAVAILABLE)
        return redirect("billing:payment_status", payment_id=payment.pk)
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION):
        messages.error(
            request, payment.failure_message or "The card was not authorized. Please try another card."
        )
    elif payment.status == PaymentStatus.CANCELED:
        messages.error(
            request,
            f"{payment.start_outcome or 'The session could not be started.'} "
            "The amount held on your card has been released.",
        )
    return redirect("billing:payment_status", payment_id=payment.pk)


def _qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=6, border=2)


@require_safe
@staff_member_required
def station_qr_codes(request: HttpRequest, identity: str) -> HttpResponse:
    """Printable QR codes, one per connector, each opening that connector's pay page."""
    station = get_object_or_404(scoped(Station.objects.all(), request), identity=identity)
    evse_ids = sorted(
        set(Connector.objects.filter(station=station, evse_id__gt=0).values_list("evse_id", flat=True))
    ) or [1]
    codes = []
    for evse_id in evse_ids:
        url = request.build_absolute_uri(
            reverse("billing:pay", kwargs={"identity": identity, "evse_id": evse_id})
        )
        codes.append({"evse_id": evse_id, "url": url, "svg": _qr_svg(url)})
    return render(request, "billing/pay_qr.html", {"station": station, "codes": codes})
