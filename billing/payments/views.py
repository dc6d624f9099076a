"""The drivers' payment methods: saved cards, adding one with Stripe's Payment Element, removing one."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from billing.domain import PaymentStatus
from billing.models import SavedPaymentMethod
from billing.payments.base import (
    NotTheDriversMethod,
    PaymentError,
    ProviderRejected,
    ProviderUnavailable,
    SetupIncomplete,
    payments_configured,
)
from billing.services.payment_methods import (
    payment_method_list_for_driver,
    payment_method_make_default,
    payment_method_setup_finish,
    payment_method_setup_start,
)
from billing.services.payment_methods import (
    payment_method_remove as remove_method,
)
from billing.services.payments import (
    payment_authentication_finish,
    payment_authentication_start,
    payment_get_for_driver,
)
from csms.http import AuthenticatedRequest

UNAVAILABLE = "The card service is not reachable just now. Please try again in a few minutes."


def _own_method(request: AuthenticatedRequest, method_id: int) -> SavedPaymentMethod:
    return get_object_or_404(payment_method_list_for_driver(user=request.user), pk=method_id)


@require_safe
@login_required
def payment_method_list(request: AuthenticatedRequest) -> HttpResponse:
    """List the driver's saved cards."""
    return render(
        request,
        "billing/payment_methods.html",
        {"methods": payment_method_list_for_driver(user=request.user), "configured": payments_configured()},
    )


@require_safe
@login_required
def payment_method_add(request: AuthenticatedRequest) -> HttpResponse:
    """Show Stripe's card form for a new SetupIntent (or say why there is none)."""
    context: dict[str, object] = {
        "configured": payments_configured() and bool(settings.STRIPE_PUBLISHABLE_KEY),
        "stripe_js_url": settings.STRIPE_JS_URL,
    }
    if context["configured"]:
        try:
            client_secret = payment_method_setup_start(user=request.user)
        except ProviderUnavailable:
            messages.error(request, UNAVAILABLE)
            return redirect("billing:payment_methods")
        context["stripe"] = {
            "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
            "clientSecret": client_secret,
            "returnUrl": request.build_absolute_uri(reverse("billing:payment_method_return")),
        }
    return render(request, "billing/payment_method_add.html", context)


@require_safe
@login_required
def payment_method_return(request: AuthenticatedRequest) -> HttpResponse:
    """Record the card of the setup Stripe sends the driver back with (checked with Stripe, not trusted)."""
    setup_id = request.GET.get("setup_intent", "")
    if not setup_id or not payments_configured():
        raise Http404("No card setup to record.")
    try:
        method = payment_method_setup_finish(user=request.user, setup_id=setup_id)
    except (NotTheDriversMethod, ProviderRejected) as error:  # someone else's, or no such setup
        raise Http404("No such card setup.") from error
    except SetupIncomplete:
        messages.error(request, "The card was not saved. Please try again, or use another card.")
        return redirect("billing:payment_method_add")
    except ProviderUnavailable:
        messages.error(request, UNAVAILABLE)
        return redirect("billing:payment_methods")
    messages.success(request, f"Card {method.brand.title()} ending {method.last4} saved.")
    return redirect("billing:payment_methods")


@require_POST
@login_required
def payment_method_remove(request: AuthenticatedRequest, method_id: int) -> HttpResponse:
    """Remove one of the driver's cards."""
    method = _own_method(request, method_id)
    try:
        remove_method(user=request.user, method=method)
    except PaymentError:
        messages.error(request, UNAVAILABLE)
    else:
        messages.success(request, f"Card ending {method.last4} removed.")
    return redirect("billing:payment_methods")


@require_POST
@login_required
def payment_method_default(request: AuthenticatedRequest, method_id: int) -> HttpResponse:
    """Charge this card from now on."""
    method = payment_method_make_default(user=request.user, method=_own_method(request, method_id))
    messages.success(request, f"Sessions are now charged to the card ending {method.last4}.")
    return redirect("billing:payment_methods")


@require_safe
@login_required
def payment_authenticate(request: AuthenticatedRequest, payment_id: int) -> HttpResponse:
    """Let the driver confirm with their bank (3-D Secure) a charge that could not go through without them."""
    payment = payment_get_for_driver(user=request.user, payment_id=payment_id)
    if payment is None:
        raise Http404("No such payment.")
    context: dict[str, object] = {"payment": payment, "stripe_js_url": settings.STRIPE_JS_URL}
    if payment.status == PaymentStatus.REQUIRES_ACTION and payments_configured():
        try:
            started = payment_authentication_start(payment=payment)
        except ProviderUnavailable:
            messages.error(request, UNAVAILABLE)
            started = None
        except ProviderRejected as error:
            raise Http404("No such payment.") from error
        if started is not None:
            context["stripe"] = {
                "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
                "clientSecret": started.client_secret,
                "paymentMethod": started.payment_method_id,
                "returnUrl": request.build_absolute_uri(
                    reverse("billing:payment_authenticated", kwargs={"payment_id": payment.pk})
                ),
            }
        payment.refresh_from_db()
    return render(request, "billing/payment_action.html", context)


@require_safe
@login_required
def payment_authenticated(request: AuthenticatedRequest, payment_id: int) -> HttpResponse:
    """Where the page goes after the bank's check: record what Stripe has now (the browser is not trusted)."""
    payment = payment_get_for_driver(user=request.user, payment_id=payment_id)
    if payment is None or not payments_configured():
        raise Http404("No such payment.")
    try:
        payment = payment_authentication_finish(payment=payment)
    except ProviderUnavailable:
        messages.error(request, UNAVAILABLE)
    except ProviderRejected as error:
        raise Http404("No such payment.") from error
    else:
        if payment.status == PaymentStatus.CAPTURED:
            messages.success(request, "Thank you: the payment is confirmed.")
        elif payment.status == PaymentStatus.REQUIRES_ACTION:
            messages.error(request, "The payment was not confirmed. Please try again, or contact us.")
    return redirect("billing:payment_authenticate", payment_id=payment_id)
