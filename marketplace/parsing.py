"""Strict JSON for everything a person sends: request bodies and JSON/JSONL imports.

Python's json module accepts what PostgreSQL refuses (NaN, Infinity, 1e999, a lone surrogate, a
NUL character, which no text or jsonb column can hold) and what Python itself cannot finish (a
5,000-digit integer, arrays nested thousands deep raise ValueError and RecursionError).
`json_loads` refuses all of them with a JsonRefused naming the reason, so each door can answer 400
in its own shape and nothing reaches the database.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from marketplace.errors import ApplicationError
from marketplace.limits import (
    MAX_DATA_FIELD_CHARS,
    MAX_ID,
    MAX_JSON_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_NUMBER_CHARS,
)

# A \uD800-\uDFFF escape in the text: the only way a surrogate gets into decoded UTF-8 JSON.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# \u0000 likewise: JSON refuses a raw control character inside a string, so NUL needs the escape.
_NUL_ESCAPE = "\\u0000"


class JsonRefused(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _constant(name: str) -> Any:
    raise JsonRefused("not_a_number", f"{name} is not a JSON number (PostgreSQL refuses it).")


def _number_text(text: str) -> str:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise JsonRefused("number_too_long", f"a number is over {MAX_JSON_NUMBER_CHARS} characters.")
    return text


def _float(text: str) -> float:
    value = float(_number_text(text))
    if value in (float("inf"), float("-inf")):
        raise JsonRefused("not_a_number", f"{text[:20]} is out of range for a number.")
    return value


DECODER = json.JSONDecoder(
    parse_constant=_constant, parse_float=_float, parse_int=lambda text: int(_number_text(text))
)


def _walk(value: Any, depth: int, *, surrogates: bool, lengths: bool, nul: bool = False) -> None:
    if depth > MAX_JSON_DEPTH:
        raise JsonRefused("too_deep", f"arrays and objects are nested over {MAX_JSON_DEPTH} deep.")
    if isinstance(value, str):
        if lengths and len(value) > MAX_DATA_FIELD_CHARS:
            raise JsonRefused("field_too_long", f"a string is over {MAX_DATA_FIELD_CHARS:,} characters.")
        if surrogates and any("\ud800" <= c <= "\udfff" for c in value):
            raise JsonRefused("lone_surrogate", "a string holds a lone surrogate (\\ud800-\\udfff).")
        if nul and "\x00" in value:
            raise JsonRefused("nul_character", "a string holds a NUL character (\\u0000), which PostgreSQL cannot store.")
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        if isinstance(key, str):
            _walk(key, depth, surrogates=surrogates, lengths=lengths, nul=nul)
        _walk(inner, depth + 1, surrogates=surrogates, lengths=lengths, nul=nul)


def json_check(value: Any, text: str) -> None:
    """Refuse what decoding let through. Walks the value only when its text could hold a
    problem (enough brackets, a surrogate or NUL escape, a long string), so common records cost
    nothing."""
    deep = text.count("[") + text.count("{") > MAX_JSON_DEPTH
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    lengths = len(text) > MAX_DATA_FIELD_CHARS
    nul = _NUL_ESCAPE in text
    if deep or surrogates or lengths or nul:
        _walk(value, 0, surrogates=surrogates, lengths=lengths, nul=nul)


def json_decode(text: str, pos: int = 0) -> tuple[Any, int]:
    """`raw_decode` with the refusals above; json.JSONDecodeError for broken text as usual."""
    try:
        value, end = DECODER.raw_decode(text, pos)
    except RecursionError:
        raise JsonRefused("too_deep", f"arrays and objects are nested over {MAX_JSON_DEPTH} deep.") from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError | JsonRefused):
            raise
        raise JsonRefused("number_too_long", str(exc)) from None  # int() over Python's digit limit
    json_check(value, text[pos:end])
    return value, end


def json_loads(text: str) -> Any:
    """One whole JSON document, strictly (see the module's docstring)."""
    value, end = json_decode(text, len(text) - len(text.lstrip()))
    if text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def decimal_text(raw: Any, name: str) -> str:
    """A decimal a person sent in JSON (money above all), as text: a string ("125.50") or a whole
    number. A JSON number with a fraction is refused (400): it decodes to a float, and 0.1 has no
    exact binary value. The caller checks the range and places (billing/amounts.money_in)."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ApplicationError(
            f"{name} must be a string like \"125.50\" (or a whole number), not {type(raw).__name__}.",
            details={name: "not_a_string"},
        )
    return str(raw).strip()


# Plain decimal notation in ASCII digits: Decimal() also reads "1e10" (a staff top-up recorded
# $10,000,000,000.00 from it), "NaN", "-0", "١٢" (Arabic-Indic digits) and " _1_0".
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


def decimal_plain(raw: str, name: str, *, places: int, most: Decimal, example: str) -> Decimal:
    """The one reading of money a person types or sends (amounts: billing/amounts.money_in; the
    pay per judgment: jobs/fields.py): ASCII digits, then optionally a point and more digits,
    surrounding spaces ignored; at most `places` decimal places and at most `most`. Everything
    else is an ApplicationError naming the field and showing the text as sent: an exponent (1e10,
    1E2), NaN, Infinity, a sign (-0, +5), hex (0x10), "5." and ".5", other scripts' digits."""
    text = raw.strip()
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise ApplicationError(
            f'{name} must be a number written out in digits 0-9, like "{example}": positive, with at most '
            f'{places} decimal places, no exponent such as 1e3, no sign; not "{raw[:40]}".',
            details={name: "not_a_number"},
        )
    number = Decimal(text)
    if number > most:  # before the places: quantizing a 60-digit number overflows Decimal's precision
        raise ApplicationError(f'{name} is at most {most:,}; not "{raw[:40]}".', details={name: "too_large"})
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise ApplicationError(f"{name} has at most {places} decimal places.", details={name: "too_many_places"})
    return number


ID_RULE = f"an id: a whole number from 1 to {MAX_ID}"


def id_or_none(raw: Any) -> int | None:
    """An id a person sent: a JSON whole number, or its plain ASCII digits as text (a form field,
    a query parameter), from 1 to MAX_ID; None for anything else: 2.0, true, "٢", and ids too
    large for a bigint, which would otherwise reach the database driver (OverflowError, a 500)."""
    if type(raw) is str and raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID)):
        raw = int(raw)
    return raw if type(raw) is int and 1 <= raw <= MAX_ID else None


def id_parse(raw: Any, name: str) -> int:
    """`id_or_none`, or a 400 naming the field."""
    value = id_or_none(raw)
    if value is None:
        raise ApplicationError(f"{name} must be {ID_RULE}.", details={name: "not_an_id"})
    return value


_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with the refusals above and a body size limit; answers 400 parse_error.

    A body that is not a JSON object is a 400 too: every JSON body of the API is an object of
    named fields (imports read their own bodies), and a view reading `[]` or `3` as "no fields"
    went on with its defaults (a consensus run started). One check here, not one per view: a 400
    invalid naming what the body was."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read(MAX_JSON_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_JSON_BODY_BYTES:
            raise ParseError(f"JSON parse error - the body is over {MAX_JSON_BODY_BYTES:,} bytes.")
        try:
            value = json_loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not UTF-8 text.") from None
        except JsonRefused as exc:
            raise ParseError(f"JSON parse error - {exc.message}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if not isinstance(value, dict):
            kind = _JSON_TYPES.get(type(value), type(value).__name__)
            raise ApplicationError(
                f'The body must be a JSON object ({{"field": value, ...}}), not {kind}.',
                details={"body": "not_an_object"},
            )
        return value
