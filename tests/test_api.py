"""Pages of every list: a page or page size out of range is refused naming it, not silently replaced."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["abc", "0", "-1", "2.5", "501"])
def test_a_page_size_that_is_not_a_whole_number_from_1_to_500_is_a_400(client_for: Any, alice: Any, size: str) -> None:
    """501 was quietly 500, and the `next` link still asked for 501."""
    response = client_for(alice).get("/api/v1/me/tokens/", {"page_size": size})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid", "message": "page_size must be a whole number from 1 to 500.", "details": {"page_size": size},
    }


@pytest.mark.django_db
def test_the_largest_page_size_answers_that_many(client_for: Any, alice: Any) -> None:
    response = client_for(alice).get("/api/v1/me/tokens/", {"page_size": "500"})
    assert response.status_code == 200 and response.json()["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["abc", "0", "-1", "2.5"])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_400_naming_it(client_for: Any, alice: Any, page: str) -> None:
    """It was a 404 "Invalid page.", as if the list were gone."""
    response = client_for(alice).get("/api/v1/me/tokens/", {"page": page})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid", "message": "page must be a whole number from 1.", "details": {"page": page},
    }


@pytest.mark.django_db
def test_an_empty_page_size_means_the_default(client_for: Any, alice: Any) -> None:
    response = client_for(alice).get("/api/v1/me/tokens/", {"page_size": ""})
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.django_db
def test_a_page_past_the_last_is_a_404_in_the_error_format(client_for: Any, alice: Any) -> None:
    response = client_for(alice).get("/api/v1/me/tokens/", {"page": 2})
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found", "message": "There is no page 2: the last page is 1.", "details": {"page": "2"},
    }
    assert client_for(alice).get("/api/v1/me/tokens/", {"page": 1}).status_code == 200
