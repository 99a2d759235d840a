"""Valid input of a flat serializer, validated without building the serializer.

A DRF serializer deep-copies its declared fields for every instance, so each request paid for
building the fields it then validated with: the submit's input parsing was about 7 % of a
submit's CPU (BENCHMARKS.md, "Server CPU per judgment"). Here one prototype per class holds
bound fields, and a JSON object is run through them field by field, as
`Serializer.to_internal_value` would, then through the class's `validate`.

Only the answer for valid input comes from here. Any doubt (not a plain JSON object, a number
where text is asked, any field's ValidationError, the class-wide check failing) answers None and
the caller runs the serializer itself, so every 400 keeps its exact shape and wording.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import SkipField, empty


def flat_validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any] | None:
    """`serializer_class(data=data).validated_data` when `data` is a valid JSON object, else None."""
    if type(data) is not dict:  # a form's QueryDict reads values its own way: the serializer's
        return None
    prototype = _prototype(serializer_class)
    if prototype is None:
        return None
    attrs: dict[str, Any] = {}
    try:
        for name, field in prototype.fields.items():
            value = data.get(name, empty)
            if isinstance(field, serializers.CharField) and isinstance(value, int | float):
                return None  # refused as text by the serializer's path (common.refuse_numbers_as_text)
            try:
                attrs[name] = field.run_validation(value)
            except SkipField:  # absent, optional, no default
                continue
        validated = prototype.validate(attrs)
    except (serializers.ValidationError, DjangoValidationError):
        return None
    return dict(validated)


@cache
def _prototype(serializer_class: type[serializers.Serializer]) -> serializers.Serializer | None:
    """An instance whose bound fields validate every request's input (validation keeps no state
    on a field), or None for a class this shortcut would misread: nested or read-only fields,
    a field read from another attribute, per-field `validate_<name>` methods, class validators."""
    prototype = serializer_class()
    fields = prototype.fields  # built once, here
    for name, field in fields.items():
        if (
            isinstance(field, serializers.BaseSerializer)
            or field.read_only
            or field.source != name
            or hasattr(prototype, f"validate_{name}")
        ):
            return None
    if getattr(getattr(serializer_class, "Meta", None), "validators", None):
        return None
    return prototype
