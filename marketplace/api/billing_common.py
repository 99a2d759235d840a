"""Shared pieces of the billing API: money in and out, invoice formats, schema fragments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from marketplace.errors import ApplicationError

TAG = ["billing"]
FORMATS = ("json", "csv", "html")

FORMAT_PARAM = OpenApiParameter(
    "format", str, required=False, enum=FORMATS, description="json (default), csv, or a printable html page"
)


def m(value: Decimal) -> str:
    """Money out: a string with exactly 2 places."""
    return f"{value:.2f}"


def r(value: Decimal | None) -> str | None:
    """A rate or accuracy out: a string with 4 places."""
    return None if value is None else f"{value:.4f}"


def int_in(data: Any, name: str, *, default: int | None = None, low: int = 1, high: int = 10_000_000) -> int:
    raw = data.get(name) if isinstance(data, dict) else None
    if raw is None:
        if default is None:
            raise ApplicationError(f"{name} is required.", details={name: "required"})
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ApplicationError(
            f"{name} must be a whole number from {low} to {high}.", details={name: "invalid"}
        )
    return raw


def invoice_format(request: Request) -> str:
    fmt = request.query_params.get("format") or "json"
    if fmt not in FORMATS:
        raise ApplicationError(f"format must be one of {', '.join(FORMATS)}.")
    return fmt


class InvoiceFormatNegotiation(DefaultContentNegotiation):
    """?format= chooses the invoice's representation (csv and html bypass the renderers), so
    DRF must not read it as a renderer override: errors always render as JSON."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = renderers[0]
        return renderer, renderer.media_type




def money_field(**kwargs: Any) -> serializers.CharField:
    kwargs.setdefault("help_text", "Money: a decimal string with 2 places")
    return serializers.CharField(**kwargs)


def rate_field(**kwargs: Any) -> serializers.CharField:
    kwargs.setdefault("help_text", "A rate or accuracy: a decimal string with 4 places")
    return serializers.CharField(**kwargs)
