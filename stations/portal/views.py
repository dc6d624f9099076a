"""The driver portal: sites a driver may use with live plug status, their sessions and their cards."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.services import (
    id_token_block_by_driver,
    id_token_register_for_driver,
    id_token_unblock_by_driver,
)
from csms.http import AuthenticatedRequest
from stations.portal.forms import CardAddForm, SiteSearchForm
from stations.portal.selectors import (
    id_token_list_for_driver,
    session_list_for_driver,
    session_row,
    site_chargers,
    site_list_for_driver,
    site_summary,
)
from stations.services.access import site_zone

SITES_PER_PAGE = 20
SESSIONS_PER_PAGE = 25
# How often the site page asks for fresh plug states, in seconds.
STATUS_REFRESH_S = 12


@require_safe
@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """List the sites the driver may charge at, with their plugs by availability."""
    form = SiteSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    page = Paginator(site_list_for_driver(user=request.user, query=query), SITES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    summaries = [site_summary(site) for site in page.object_list]
    return render(
        request, "portal/home.html", {"form": form, "query": query, "page": page, "summaries": summaries}
    )


def _site_context(request: AuthenticatedRequest, site_id: int) -> dict[str, object]:
    site = get_object_or_404(site_list_for_driver(user=request.user), pk=site_id)
    return {
        "site": site,
        "chargers": site_chargers(site),
        "zone": site_zone(site),
        "updated_at": timezone.now(),
        "refresh_s": STATUS_REFRESH_S,
    }


@require_safe
@login_required
def site_detail(request: AuthenticatedRequest, site_id: int) -> HttpResponse:
    """Show a site's chargers and the live state of each plug."""
    return render(request, "portal/site_detail.html", _site_context(request, site_id))


@require_safe
@login_required
def site_status(request: AuthenticatedRequest, site_id: int) -> HttpResponse:
    """Render only the plug states of a site, for the page's periodic refresh."""
    return render(request, "portal/_site_status.html", _site_context(request, site_id))


@require_safe
@login_required
def session_list(request: AuthenticatedRequest) -> HttpResponse:
    """List the driver's charging sessions, newest first."""
    page = Paginator(session_list_for_driver(user=request.user), SESSIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    rows = [session_row(session, now=now) for session in page.object_list]
    return render(request, "portal/sessions.html", {"page": page, "rows": rows})


@login_required
def card_list(request: AuthenticatedRequest) -> HttpResponse:
    """List the driver's cards; on POST, register a new one."""
    form = CardAddForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            token = id_token_register_for_driver(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Card {token.id_tag} added.")
            return redirect("portal:cards")
    cards = id_token_list_for_driver(user=request.user)
    return render(request, "portal/cards.html", {"form": form, "cards": cards})


@require_POST
@login_required
def card_block(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    """Block one of the driver's cards."""
    token = get_object_or_404(id_token_list_for_driver(user=request.user), pk=token_id)
    id_token_block_by_driver(user=request.user, token=token)
    messages.success(request, f"Card {token.id_tag} is blocked.")
    return redirect("portal:cards")


@require_POST
@login_required
def card_unblock(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    """Accept one of the driver's own cards again."""
    token = get_object_or_404(id_token_list_for_driver(user=request.user), pk=token_id)
    try:
        id_token_unblock_by_driver(user=request.user, token=token)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Card {token.id_tag} is unblocked.")
    return redirect("portal:cards")
