"""The bearer-token lookup every API request makes: one query, built once per process, read afresh
each time (marketplace/api/authentication.py). Wendy is a worker with a token."""

from __future__ import annotations

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from marketplace.accounts.models import ApiToken, User, hash_token
from marketplace.accounts.services import token_create
from marketplace.api.authentication import token_with_user

pytestmark = pytest.mark.django_db


def test_the_lookup_reads_the_token_and_its_user_as_the_orm_would_in_one_query(wendy: User) -> None:
    _, secret = token_create(user=wendy, name="laptop")
    with CaptureQueriesContext(connection) as queries:
        token = token_with_user(hash_token(secret))
    expected = ApiToken.objects.select_related("user").get(key_hash=hash_token(secret))

    assert len(queries.captured_queries) == 1
    assert token is not None and token.pk == expected.pk and not token._state.adding
    assert model_to_dict(token) == model_to_dict(expected)
    assert model_to_dict(token.user) == model_to_dict(expected.user)
    assert token.created_at == expected.created_at and token.user.date_joined == expected.user.date_joined


def test_an_unknown_hash_finds_nothing() -> None:
    assert token_with_user(hash_token("not-a-token")) is None


def test_a_worker_deactivated_between_two_requests_is_refused_at_the_second(wendy: User) -> None:
    _, secret = token_create(user=wendy, name="laptop")
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/work/jobs/").status_code == 200

    User.objects.filter(pk=wendy.pk).update(is_active=False)

    assert api.get("/api/v1/work/jobs/").status_code == 401
