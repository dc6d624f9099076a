"""Paying at a charger: the connector's page (reached by its QR code), the hold in Stripe's Payment
Element, the page Stripe returns to, the payment's progress page with its stop button, and the QR
codes to print. Paying without an account has its own pages in guest_views.py, sharing these."""

from __future__ import annotations

import segno
from django import forms
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
from billing.guest_links import GuestLinkError, guest_payment_from_link
from billing.models import Invoice, Payment
from billing.payments.base import PaymentError, ProviderRejected, ProviderUnavailable
from billing.services.card_hold import (
    HoldNotFound,
    HoldNotOffered,
    card_hold_client_secret,
    card_hold_confirm,
    card_hold_session,
    card_hold_start,
)
from billing.services.card_hold_guest import card_hold_progress, card_hold_stop_by_driver
from billing.services.card_hold_offer import card_hold_offer
from billing.services.invoicing import invoice_for_session
from billing.templatetags.billing_prices import price_parts, unit_price
from csms.http import AuthenticatedRequest
from csms.tenancy_admin import scoped
from stations.models import Connector, Station
from stations.services.access import site_zone

UNAVAILABLE = "The card service is not reachable just now. Please try again in a few minutes."
# While a payment's session is starting or running its page reloads itself this often.
REFRESH_S = 5
# The signed links of a guest's payments, newest first, kept in their browser session.
GUEST_LINKS = "billing_guest_links"
GUEST_LINKS_KEPT = 10
UNSETTLED = (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION)


class GuestPayForm(forms.Form):
    email = forms.EmailField(
        label="Email for your receipt",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
        error_messages={"required": "Enter the email address your receipt should go to."},
    )


def _station(identity: str) -> Station:
    return get_object_or_404(Station.objects.select_related("site"), identity=identity)


def guest_links_recall(request: HttpRequest) -> list[tuple[str, Payment]]:
    """The guest payments this browser made (from its session), with their links; bad ones skipped."""
    found = []
    for token in request.session.get(GUEST_LINKS, []):
        try:
            found.append((token, guest_payment_from_link(token)))
        except GuestLinkError:
            continue
    return found


def guest_link_remember(request: HttpRequest, token: str, payment: Payment) -> None:
    kept = [t for t, p in guest_links_recall(request) if p.pk != payment.pk]
    request.session[GUEST_LINKS] = [token, *kept][:GUEST_LINKS_KEPT]


def pay_page_render(
    request: HttpRequest,
    station: Station,
    evse_id: int,
    *,
    guest_form: GuestPayForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The connector's page; for a visitor not logged in, the guest form (with its errors) and the
    payments this browser made here that are still going."""
    user = request.user if request.user.is_authenticated else None
    now = timezone.now()
    offer = card_hold_offer(station=station, evse_id=evse_id, user=user, at=now)
    context: dict[str, object] = {"offer": offer, "station": station}
    if offer.preview is not None:
        zone = site_zone(station.site) if station.site is not None else timezone.get_current_timezone()
        context["price_parts"], context["price_note"] = price_parts(offer.preview, now=now, zone=zone)
        context["hold"] = unit_price(offer.hold_amount, offer.preview.currency)
    if user is None:
        context["guest_form"] = guest_form or GuestPayForm()
        context["guest_payments"] = [
            (token, payment)
            for token, payment in guest_links_recall(request)
            if payment.station_id == station.pk
            and payment.evse_id == evse_id
            and payment.status in (*UNSETTLED, PaymentStatus.AUTHORIZED)
        ]
    return render(request, "billing/pay.html", context, status=status)


@require_safe
def pay_page(request: HttpRequest, identity: str, evse_id: int) -> HttpResponse:
    """The connector's page: its state, the price, the hold, and the button to pay and charge."""
    return pay_page_render(request, _station(identity), evse_id)


@require_POST
@login_required
def pay_start(request: AuthenticatedRequest, identity: str, evse_id: int) -> HttpResponse:
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


def payment_status_render(
    request: HttpRequest,
    payment: Payment,
    *,
    return_url: str,
    stop_url: str,
    documents: list[tuple[Invoice, str, str]],
) -> HttpResponse:
    """A payment at a charger: the card form while unauthorized, then starting, charging (energy, cost
    so far, the stop button), paid (the receipt); `documents` are (document, page, PDF) links."""
    session = card_hold_session(payment=payment)
    progress = card_hold_progress(payment=payment)
    cost = progress.cost if progress is not None else None
    context: dict[str, object] = {
        "payment": payment,
        "session": session,
        "refresh_s": 0,
        "hold": unit_price(payment.amount_authorized, payment.currency),
        "captured": unit_price(payment.amount_captured, payment.currency),
        "progress": progress,
        "cost": unit_price(cost, progress.currency) if progress is not None and cost is not None else "",
        "documents": documents,
        "guest": payment.user_id is None,
    }
    if payment.status in UNSETTLED:
        try:
            secret = card_hold_client_secret(payment=payment)
        except PaymentError:
            messages.error(request, UNAVAILABLE)
            secret = ""
        context["stripe_js_url"] = settings.STRIPE_JS_URL
        context["stripe"] = {
            "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
            "clientSecret": secret,
            "returnUrl": request.build_absolute_uri(return_url),
        }
        context["state"] = "authorize"
    elif payment.status == PaymentStatus.AUTHORIZED:
        context["state"] = "starting"
        if session is not None:
            context["state"] = "charging" if session.stopped_at is None else "billing"
        context["refresh_s"] = REFRESH_S
    elif payment.status == PaymentStatus.CANCELED and session is None:
        context["state"] = "released"
    elif payment.amount_captured > 0:
        context["state"] = "paid"
    else:
        context["state"] = "ended"
    if context["state"] == "charging":
        context["stop_url"] = stop_url
    return render(request, "billing/pay_status.html", context)


@require_safe
@login_required
def payment_status(request: HttpRequest, payment_id: int) -> HttpResponse:
    """The driver's payment at a charger and its session."""
    payment = _own_payment(request, payment_id)
    session = card_hold_session(payment=payment)
    invoice = invoice_for_session(session) if session is not None and session.stopped_at else None
    documents = (
        [
            (
                invoice,
                reverse("billing:invoice", args=[invoice.code]),
                reverse("billing:invoice_pdf", args=[invoice.code]),
            )
        ]
        if invoice is not None
        else []
    )
    return payment_status_render(
        request,
        payment,
        return_url=reverse("billing:payment_return", kwargs={"payment_id": payment.pk}),
        stop_url=reverse("billing:payment_stop", kwargs={"payment_id": payment.pk}),
        documents=documents,
    )


def hold_return_messages(request: HttpRequest, payment: Payment) -> None:
    """Say why the driver, back from authorizing, is not charging (a declined card, a refused start)."""
    if payment.status in UNSETTLED:
        messages.error(
            request, payment.failure_message or "The card was not authorized. Please try another card."
        )
    elif payment.status == PaymentStatus.CANCELED:
        messages.error(
            request,
            f"{payment.start_outcome or 'The session could not be started.'} "
            "The amount held on your card has been released.",
        )


@require_safe
@login_required
def payment_return(request: AuthenticatedRequest, payment_id: int) -> HttpResponse:
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
    hold_return_messages(request, payment)
    return redirect("billing:payment_status", payment_id=payment.pk)


def stop_messages(request: HttpRequest, payment: Payment) -> None:
    """Ask the charger to stop the payment's session and say what it answered."""
    outcome = card_hold_stop_by_driver(payment=payment)
    if outcome.accepted:
        messages.success(request, "The charger is stopping. The price is taken from the amount held.")
    else:
        messages.error(request, outcome.message)


@require_POST
@login_required
def payment_stop(request: HttpRequest, payment_id: int) -> HttpResponse:
    """Stop the driver's card-paid session at their request."""
    payment = _own_payment(request, payment_id)
    stop_messages(request, payment)
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
