"""Request types for the type checker."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """A request past login_required (or a staff check): its user is a User, never anonymous."""

    user: User
