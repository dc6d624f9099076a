"""Paying at a charger without an account: the guest starts a hold with their email address, then
follows the payment on pages reached by its signed link: the card form, the session with its energy,
cost and stop button, and the receipt as HTML and PDF. A link that opens nothing gets a page saying
so: 403 when it has expired, 404 when it is not one of ours."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from billing.guest_links import (
    GUEST_LINK_MAX_AGE,
    GuestLinkExpired,
    GuestLinkInvalid,
    guest_link_token,
    guest_payment_from_link,
)
from billing.invoicing_views import pdf_response
from billing.models import Payment
from billing.payments.base import PaymentError, ProviderRejected, ProviderUnavailable
from billing.payments.pay_views import (
    UNAVAILABLE,
    GuestPayForm,
    guest_link_remember,
    hold_return_messages,
    pay_page_render,
    payment_status_render,
    stop_messages,
)
from billing.services.card_hold import HoldNotOffered, card_hold_check
from billing.services.card_hold_guest import (
    GuestHoldsLimited,
    card_hold_start_guest,
    guest_documents,
    guest_holds_count,
)
from billing.services.invoice_pdf import document_facts
from stations.models import Station

GuestView = Callable[..., HttpResponse]


def guest_link_required(view: GuestView) -> GuestView:
    """Open the payment the link's token names (and remember the link in the browser's session), or
    answer with the page saying the link opens nothing."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, token: str, **kwargs: object) -> HttpResponse:
        try:
            payment = guest_payment_from_link(token)
        except GuestLinkExpired:
            context = {"expired": True, "max_age_days": GUEST_LINK_MAX_AGE.days}
            return render(request, "billing/guest_link_invalid.html", context, status=403)
        except GuestLinkInvalid:
            return render(request, "billing/guest_link_invalid.html", {"expired": False}, status=404)
        guest_link_remember(request, token, payment)
        return view(request, payment, token, **kwargs)

    return wrapped


@require_POST
def pay_start_guest(request: HttpRequest, identity: str, evse_id: int) -> HttpResponse:
    """Open a hold for a driver without an account, whose receipt goes to the address they give."""
    station = get_object_or_404(Station.objects.select_related("site"), identity=identity)
    if request.user.is_authenticated:
        return redirect("billing:pay", identity=identity, evse_id=evse_id)
    form = GuestPayForm(request.POST)
    if not form.is_valid():
        return pay_page_render(request, station, evse_id, guest_form=form, status=400)
    if request.session.session_key is None:
        request.session.save()  # a key to count this browser's holds by
    try:
        guest_holds_count(
            client_address=request.META.get("REMOTE_ADDR", ""), browser_key=request.session.session_key or ""
        )
        payment, _ = card_hold_start_guest(station=station, evse_id=evse_id, email=form.cleaned_data["email"])
    except ValidationError as error:
        form.add_error("email", error)
        return pay_page_render(request, station, evse_id, guest_form=form, status=400)
    except (GuestHoldsLimited, HoldNotOffered) as error:
        messages.error(request, str(error))
        status = 429 if isinstance(error, GuestHoldsLimited) else 409
        return pay_page_render(request, station, evse_id, guest_form=form, status=status)
    except PaymentError:
        messages.error(request, UNAVAILABLE)
        return pay_page_render(request, station, evse_id, guest_form=form, status=503)
    token = guest_link_token(payment)
    guest_link_remember(request, token, payment)
    return redirect("billing:guest_payment", token=token)


@require_safe
@guest_link_required
def guest_payment(request: HttpRequest, payment: Payment, token: str) -> HttpResponse:
    """The guest's payment and session: authorize, then charging with the stop button, then the receipt."""
    ended = payment.session is not None and payment.session.stopped_at is not None
    documents = [
        (
            document,
            reverse("billing:guest_document", kwargs={"token": token, "code": document.code}),
            reverse("billing:guest_document_pdf", kwargs={"token": token, "code": document.code}),
        )
        for document in (guest_documents(payment=payment) if ended else [])
    ]
    return payment_status_render(
        request,
        payment,
        return_url=reverse("billing:guest_payment_return", kwargs={"token": token}),
        stop_url=reverse("billing:guest_payment_stop", kwargs={"token": token}),
        documents=documents,
    )


@require_safe
@guest_link_required
def guest_payment_return(request: HttpRequest, payment: Payment, token: str) -> HttpResponse:
    """Where Stripe sends the guest back: check the hold with Stripe, and start the charger if held."""
    if request.GET.get("payment_intent", "") != payment.provider_reference:
        raise Http404("No such payment.")
    try:
        payment = card_hold_check(payment=payment)
    except ProviderRejected as error:
        raise Http404("No such payment.") from error
    except ProviderUnavailable:
        messages.error(request, UNAVAILABLE)
        return redirect("billing:guest_payment", token=token)
    hold_return_messages(request, payment)
    return redirect("billing:guest_payment", token=token)


@require_POST
@guest_link_required
def guest_payment_stop(request: HttpRequest, payment: Payment, token: str) -> HttpResponse:
    """Stop the guest's session at their request."""
    stop_messages(request, payment)
    return redirect("billing:guest_payment", token=token)


@require_safe
@guest_link_required
def guest_document(request: HttpRequest, payment: Payment, token: str, code: str) -> HttpResponse:
    """A document of the guest's session (only theirs: other codes are not found)."""
    invoice = get_object_or_404(guest_documents(payment=payment), code=code)
    context = {"invoice": invoice, "facts": document_facts(invoice), "token": token}
    return render(request, "billing/guest_document.html", context)


@require_safe
@guest_link_required
def guest_document_pdf(request: HttpRequest, payment: Payment, token: str, code: str) -> HttpResponse:
    """A document of the guest's session as PDF."""
    return pdf_response(get_object_or_404(guest_documents(payment=payment), code=code))
