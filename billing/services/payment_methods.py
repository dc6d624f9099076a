"""Drivers' saved cards: the provider's customer, saving a card (SetupIntent), the default, removal."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from billing.models import BillingCustomer, SavedPaymentMethod
from billing.payments.base import NotTheDriversMethod, SetupIncomplete
from billing.services.payments import gateway_required


def customer_get_or_create(*, user: User) -> BillingCustomer:
    """The driver's customer at the provider, made on first use (once, whatever the concurrency)."""
    if (customer := BillingCustomer.objects.filter(user=user).first()) is not None:
        return customer
    gw = gateway_required()
    remote = gw.customer_create(
        email=user.email,
        name=user.get_full_name(),
        reference=str(user.pk),
        idempotency_key=f"customer:user:{user.pk}",  # a concurrent first use gets the same customer
    )
    try:
        with transaction.atomic():
            customer, _ = BillingCustomer.objects.get_or_create(
                user=user, defaults={"provider": gw.identifier, "provider_customer_id": remote.id}
            )
    except IntegrityError:
        customer = BillingCustomer.objects.get(user=user)
    return customer


def payment_method_setup_start(*, user: User) -> str:
    """Start saving a card for charges after sessions; returns the secret the browser confirms with."""
    customer = customer_get_or_create(user=user)
    # A new setup per visit: a succeeded one cannot be reused. The key guards the library's retries.
    setup = gateway_required().setup_start(
        customer_id=customer.provider_customer_id, idempotency_key=f"setup:user:{user.pk}:{uuid.uuid4()}"
    )
    return setup.client_secret


def payment_method_saved(*, user: User, provider_payment_method_id: str) -> SavedPaymentMethod:
    """Record a card the provider holds for the driver, with its brand, last 4 and expiry.

    The provider's record decides whose card it is. The driver's first card becomes the default."""
    remote = gateway_required().payment_method_retrieve(provider_payment_method_id)
    customer = BillingCustomer.objects.filter(user=user).first()
    if customer is None or remote.customer_id != customer.provider_customer_id:
        raise NotTheDriversMethod("This card is not attached to the driver's customer.")
    fields = {
        "brand": remote.brand[:20],
        "last4": remote.last4,
        "exp_month": remote.exp_month,
        "exp_year": remote.exp_year,
    }
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()  # one default, even when racing
        method = SavedPaymentMethod.objects.filter(provider_payment_method_id=remote.id).first()
        if method is not None:
            if method.user_id != user.pk:
                raise NotTheDriversMethod("This card is recorded for another driver.")
            for name, value in fields.items():
                setattr(method, name, value)
            method.save(update_fields=list(fields))
            return method
        has_default = SavedPaymentMethod.objects.filter(
            user=user, removed_at__isnull=True, is_default=True
        ).exists()
        return SavedPaymentMethod.objects.create(
            user=user, provider_payment_method_id=remote.id, is_default=not has_default, **fields
        )


def payment_method_setup_finish(*, user: User, setup_id: str) -> SavedPaymentMethod:
    """Record the card of a setup the driver completed (the page Stripe returns to)."""
    setup = gateway_required().setup_retrieve(setup_id)
    customer = BillingCustomer.objects.filter(user=user).first()
    if customer is None or setup.customer_id != customer.provider_customer_id:
        raise NotTheDriversMethod("This card setup belongs to another customer.")
    if not setup.succeeded or not setup.payment_method_id:
        raise SetupIncomplete("The card was not saved.")
    return payment_method_saved(user=user, provider_payment_method_id=setup.payment_method_id)


def payment_method_remove(*, user: User, method: SavedPaymentMethod) -> SavedPaymentMethod:
    """Detach the card at the provider and forget it; the newest other card becomes the default."""
    if method.user_id != user.pk:
        raise NotTheDriversMethod("This card belongs to another driver.")
    if method.removed_at is not None:
        return method
    gateway_required().payment_method_detach(method.provider_payment_method_id)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()
        was_default = method.is_default
        method.removed_at, method.is_default = timezone.now(), False
        method.save(update_fields=["removed_at", "is_default"])
        if was_default:
            successor = (
                SavedPaymentMethod.objects.filter(user=user, removed_at__isnull=True)
                .order_by("-created_at", "-pk")
                .first()
            )
            if successor is not None:
                successor.is_default = True
                successor.save(update_fields=["is_default"])
    return method


def payment_method_make_default(*, user: User, method: SavedPaymentMethod) -> SavedPaymentMethod:
    if method.user_id != user.pk or method.removed_at is not None:
        raise NotTheDriversMethod("This card is not one of the driver's cards.")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()
        SavedPaymentMethod.objects.filter(user=user).exclude(pk=method.pk).update(is_default=False)
        method.is_default = True
        method.save(update_fields=["is_default"])
    return method


def payment_method_list_for_driver(*, user: User) -> QuerySet[SavedPaymentMethod]:
    """The driver's saved cards, the default first."""
    return SavedPaymentMethod.objects.filter(user=user, removed_at__isnull=True).order_by(
        "-is_default", "-created_at", "-pk"
    )
