"""Pages of every list: a page size that is not a whole number is refused, not silently replaced."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["abc", "0", "-1", "2.5"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(client_for: Any, alice: Any, size: str) -> None:
    response = client_for(alice).get("/api/v1/me/tokens/", {"page_size": size})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "page_size must be a whole number from 1."


@pytest.mark.django_db
def test_an_empty_page_size_means_the_default(client_for: Any, alice: Any) -> None:
    response = client_for(alice).get("/api/v1/me/tokens/", {"page_size": ""})
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.django_db
def test_a_page_past_the_last_is_a_404_in_the_error_format(client_for: Any, alice: Any) -> None:
    response = client_for(alice).get("/api/v1/me/tokens/", {"page": 2})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
