from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from accounts.domain import AuthorizationStatus
from accounts.services import id_token_authorize, id_token_create
from tests.factories import IdTokenFactory

pytestmark = pytest.mark.django_db


def test_id_tags_are_matched_ignoring_case_as_ocpp_cistrings_are():
    IdTokenFactory(id_tag="04E2a1B2")
    assert id_token_authorize(id_tag="04e2A1b2").status == AuthorizationStatus.ACCEPTED


def test_a_tag_differing_only_in_case_cannot_be_registered_twice():
    id_token_create(id_tag="ABC123")
    with pytest.raises(ValidationError, match="already exists"):
        id_token_create(id_tag="abc123")


def test_expiry_is_judged_at_the_given_moment():
    IdTokenFactory(id_tag="T", expires_at=datetime(2026, 6, 1, tzinfo=UTC))
    assert id_token_authorize(id_tag="T", at=datetime(2026, 5, 31, tzinfo=UTC)).status == "accepted"
    assert id_token_authorize(id_tag="T", at=datetime(2026, 6, 1, tzinfo=UTC)).status == "expired"
