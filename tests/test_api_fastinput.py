"""The submit's and next's input, validated without building their serializers, reads exactly
as the serializers would, and leaves every invalid body to them (so each 400 keeps its words)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.http import QueryDict

from marketplace.api.fastinput import flat_validated
from marketplace.api.work import NextInputSerializer, SubmitInputSerializer

VALID_SUBMITS: list[dict[str, Any]] = [
    {"label": "cat"},
    {"label": "  cat  ", "next": True},
    {"label": "cat", "next": "true", "next_from": "any"},
    {"label": "cat", "seconds_spent": "1.5"},
    {"label": "cat", "seconds_spent": 2},
    {"label": "cat", "seconds_spent": None, "next": False},
    {"labels": []},
    {"labels": ["cat", " dog", ""], "next": 1},
    {"label": "cat", "unknown": "ignored"},
    {"labels": ["cat", 3]},  # a list's entries are not refused as numbers, either way
]
INVALID_SUBMITS: list[Any] = [
    {},
    {"next": True},
    {"label": ""},
    {"label": "   "},
    {"label": None},
    {"label": 7},
    {"label": 7.5},
    {"label": True},
    {"label": "x" * 65},
    {"label": "a\x00b"},
    {"label": "cat", "next": "perhaps"},
    {"label": "cat", "next": None},
    {"label": "cat", "next_from": "elsewhere"},
    {"label": "cat", "seconds_spent": "-1"},
    {"label": "cat", "seconds_spent": "1.2345"},
    {"label": "cat", "seconds_spent": "1234567"},
    {"label": "cat", "seconds_spent": "nan"},
    {"label": "cat", "seconds_spent": "soon"},
    {"labels": "cat"},
    {"labels": [None]},
    {"labels": ["x"] * 1000},
    ["cat"],
    "cat",
    None,
]


@pytest.mark.parametrize("body", VALID_SUBMITS)
def test_a_valid_submit_body_reads_as_the_serializer_reads_it(body: dict[str, Any]) -> None:
    serializer = SubmitInputSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert flat_validated(SubmitInputSerializer, body) == dict(serializer.validated_data)


@pytest.mark.parametrize("body", INVALID_SUBMITS)
def test_an_invalid_submit_body_is_left_to_the_serializer(body: Any) -> None:
    assert flat_validated(SubmitInputSerializer, body) is None


def test_the_seconds_spent_are_the_serializers_decimal() -> None:
    valid = flat_validated(SubmitInputSerializer, {"label": "cat", "seconds_spent": "1.5"})
    assert valid == {"label": "cat", "seconds_spent": Decimal("1.500"), "next": False, "next_from": "job"}


def test_a_form_body_is_left_to_the_serializer() -> None:
    assert flat_validated(SubmitInputSerializer, QueryDict("label=cat")) is None


@pytest.mark.parametrize("body", [{}, {"job": 3}, {"job": None}, {"job": "4"}])
def test_a_next_body_reads_as_the_serializer_reads_it(body: dict[str, Any]) -> None:
    serializer = NextInputSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert flat_validated(NextInputSerializer, body) == dict(serializer.validated_data)


@pytest.mark.parametrize("body", [
    {"job": "three"}, {"job": 1.5}, {"job": True}, {"job": 2.0}, {"job": "2.0"}, {"job": "\u0662"}, {"job": 0},
    {"job": -3}, {"job": 2**63}, {"job": 10**30},
])
def test_an_invalid_next_body_is_left_to_the_serializer_which_refuses_it(body: dict[str, Any]) -> None:
    assert flat_validated(NextInputSerializer, body) is None
    assert not NextInputSerializer(data=body).is_valid()
