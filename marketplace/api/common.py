"""Shared API plumbing: pagination and small helpers every resource module of the API uses."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator as DjangoPaginator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from marketplace.errors import ApplicationError, NotFound
from marketplace.limits import MAX_ID
from marketplace.parsing import ID_RULE, id_or_none


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        """A page_size that is not a whole number from 1 to the maximum is a 400: DRF would
        silently use the default (a typo'd size looked like a short list) or the maximum (501
        answered 500 rows, and `next` still asked for 501)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ApplicationError(
                f"page_size must be a whole number from 1 to {self.max_page_size}.", details={"page_size": raw[:20]}
            )
        return int(raw)

    def get_page_number(self, request: Request, paginator: DjangoPaginator) -> int | str:
        """A page that is not a whole number from 1 is a 400, like every bad input (DRF answered
        404 "Invalid page."); one past the last is the 404, saying which page is the last."""
        raw = request.query_params.get(self.page_query_param)
        if raw is None or raw == "":
            return 1
        if raw in self.last_page_strings:
            return raw
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise ApplicationError("page must be a whole number from 1.", details={"page": raw[:20]})
        last = max(paginator.num_pages, 1)
        if int(raw) > last:
            raise NotFound(f"There is no page {raw[:20]}: the last page is {last}.", details={"page": raw[:20]})
        return int(raw)


PAGE_PARAMETERS = [
    OpenApiParameter(
        "page", {"type": "integer", "minimum": 1}, required=False,
        description="1-based; a page past the last is a 404",
    ),
    OpenApiParameter(
        "page_size", {"type": "integer", "minimum": 1, "maximum": Pagination.max_page_size}, required=False,
        description=f"Default {Pagination.page_size}, at most {Pagination.max_page_size}",
    ),
]

# One component per item type, however many views list it (a second class of the same name
# would be a schema conflict).
_PAGES: dict[str, serializers.Serializer] = {}


def paginated(item: type[serializers.Serializer] | serializers.Serializer) -> serializers.Serializer:
    """The schema of a Pagination page of `item`s: {count, next, previous, results: [item]}.

    Views page by hand (`Pagination().paginate_queryset`), so drf-spectacular cannot see the
    wrapper; without this the schema would promise a bare array."""
    if isinstance(item, serializers.ListSerializer):
        item = item.child
    item_class = item if isinstance(item, type) else item.__class__
    name = f"Paginated{item_class.__name__.removesuffix('Serializer')}List"
    if name not in _PAGES:
        _PAGES[name] = inline_serializer(name, fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item_class(many=True),
        })
    return _PAGES[name]


def extend_list_schema(item: Any, *, parameters: list[OpenApiParameter] | None = None, **kwargs: Any) -> Any:
    """`extend_schema` for a paginated list: the page wrapper and the page/page_size parameters."""
    return extend_schema(responses=paginated(item), parameters=[*PAGE_PARAMETERS, *(parameters or [])], **kwargs)


# Sent by HTML forms posting with a session; never a field of ours.
_IGNORED_FIELDS = {"csrfmiddlewaretoken"}


def refuse_unknown_fields(names: Iterable[str], data: Any) -> None:
    """A body key that is no field of the request is a 400 naming it and the fields there are,
    so a typo ("pass_marks", "jobs") is not silently replaced by a default."""
    if not hasattr(data, "keys"):
        return
    known = set(names)
    unknown = sorted(set(data.keys()) - known - _IGNORED_FIELDS)
    if unknown:
        raise ApplicationError(
            f"Unknown field(s): {', '.join(unknown)[:200]}; this request takes {', '.join(sorted(known))}.",
            details={"unknown_fields": unknown[:50], "allowed": sorted(known)},
        )


def refuse_numbers_as_text(serializer: serializers.Serializer, data: Any) -> None:
    """A JSON number where a field takes text is a 400, as the schema says (type: string).

    DRF's CharField quietly turns 123456.789 into "123456.789", so a client's bug (a number
    for a password, a name or a reason) was stored instead of refused. Nested serializers and
    lists of them are checked the same way; form bodies carry only text and pass untouched."""
    if not isinstance(data, dict):
        return
    for name, field in serializer.fields.items():
        value = data.get(name)
        if isinstance(field, serializers.CharField) and isinstance(value, int | float):
            raise ApplicationError(f"{name}: Not a valid string.", details={name: ["Not a valid string."]})
        if isinstance(field, serializers.Serializer):
            refuse_numbers_as_text(field, value)
        elif isinstance(field, serializers.ListSerializer) and isinstance(value, list):
            for entry in value:
                refuse_numbers_as_text(field.child, entry)


class IdField(serializers.IntegerField):
    """An id in a request body (`parsing.id_or_none`). DRF's IntegerField takes 2.0 and true for
    ids and has no upper bound, so a 20-digit id reached the database driver: a 500."""

    default_error_messages = {"invalid": f"Must be {ID_RULE}."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)  # the bounds show in the schema

    def to_internal_value(self, data: Any) -> int:
        value = id_or_none(data)
        if value is None:
            self.fail("invalid")
        return value


DATETIME_RULE = "a date and time with its time zone (ISO 8601), such as 2026-12-05T15:04:00Z or 2026-12-05T17:04:00+02:00"


class AwareDateTimeField(serializers.DateTimeField):
    """A date and time in a request body, with its zone. DRF read "2026-12-05" and a zoneless
    "2026-12-05T15:04" as UTC, which is hours off for a client that meant its own time: refused,
    saying the form, instead of guessed."""

    default_error_messages = {"invalid": f"Must be {DATETIME_RULE}.", "naive": f"Must be {DATETIME_RULE}."}

    def to_internal_value(self, value: Any) -> Any:
        try:
            parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:  # well formed but no such time (month 13): DRF's own "invalid" below
            parsed = None
        if parsed is not None and timezone.is_naive(parsed):
            self.fail("naive")
        return super().to_internal_value(value)


ACCURACY_HELP = "An accuracy: a decimal string with 4 places, 0.0000 to 1.0000 (as the quotes' accuracies)"


def accuracy_out(value: float | Decimal | None) -> str | None:
    """An accuracy out, everywhere in the API: a decimal string with 4 places, as a quote's
    promised_accuracy and the billing rates, so a client reads one type and keeps it exact."""
    return None if value is None else f"{value:.4f}"


def accuracy_field(**kwargs: Any) -> serializers.CharField:
    kwargs.setdefault("help_text", ACCURACY_HELP)
    return serializers.CharField(**kwargs)
