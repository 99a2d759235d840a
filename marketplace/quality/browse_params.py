"""The data browser's inputs: filters, sort, cursor and page size, parsed strictly from a query.

Pages and the API hand the raw query string here and get typed values back, or one
ApplicationError (400) naming the parameter: a bad number, NaN, a page over the limit, a label the
job does not have. Nothing a user typed reaches SQL but as a bound parameter; which SQL runs is
chosen from these typed fields alone (quality/browsing.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from marketplace.errors import ApplicationError

PAGE_DEFAULT = 50
PAGE_MAX = 200
TEXT_MAX = 100  # characters of a search in item data
EXTERNAL_ID_MAX = 200  # Item.external_id's length
SORTS = ("id", "-id", "confidence", "-confidence")
EXPERT = ("any", "none", "open", "settled")
_SHARE = re.compile(r"^(0(\.\d{1,6})?|1(\.0{1,6})?|\.\d{1,6})$")  # 0..1, at most 6 places


@dataclass(frozen=True)
class BrowseFilter:
    """What a data browser page shows: every field optional, None meaning "any"."""

    label: str | None = None  # the consensus label (a key of the job's label set)
    confidence_min: float | None = None  # inclusive, 0..1
    confidence_max: float | None = None  # inclusive, 0..1
    agreement_below: float | None = None  # share of judgments agreeing with the label, exclusive
    gold: bool | None = None
    expert: str | None = None  # one of EXPERT
    judged: bool | None = None  # has at least one accepted judgment that counts
    external_id: str | None = None  # prefix (an exact id matches itself)
    text: str | None = None  # substring of the item's data, case-insensitive, in a bounded window
    sort: str = "id"
    model: int | None = None  # the model version compared (PredictionModel id); None: the default
    model_agrees: bool | None = None  # the model's prediction is (or is not) the consensus label

    @property
    def needs_result(self) -> bool:
        """True when only items with a consensus result can match (the run's rows drive the walk)."""
        return (
            self.label is not None or self.confidence_min is not None or self.confidence_max is not None
            or self.agreement_below is not None or self.sort in ("confidence", "-confidence")
            or self.model_agrees is not None
        )

    @property
    def scans(self) -> bool:
        """True for filters no index serves: a page reads a bounded window of items (browsing.py)."""
        return self.text is not None or self.judged is not None

    def as_query(self) -> dict[str, str]:
        """The filter as query parameters again (links to the next page, the CSV, an action)."""
        out: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None or (field.name == "sort" and value == "id"):
                continue
            name = "q" if field.name == "text" else field.name
            out[name] = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        return out


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the item `item_id` (and its confidence, when sorted by it)."""

    sort: str
    item_id: int
    confidence: float | None = None

    def encode(self) -> str:
        raw = json.dumps([self.sort, self.item_id, self.confidence], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bad(name: str, message: str) -> ApplicationError:
    return ApplicationError(f"{name}: {message}", details={"parameter": name})


def _share(params: Mapping[str, str], name: str) -> float | None:
    raw = params.get(name) or ""
    if not raw:
        return None
    if not _SHARE.match(raw):
        raise _bad(name, "a number from 0 to 1 with at most 6 decimal places, like 0.7.")
    return float(raw)


def _yes_no(params: Mapping[str, str], name: str) -> bool | None:
    raw = params.get(name) or ""
    if not raw or raw == "any":
        return None
    if raw not in ("yes", "no"):
        raise _bad(name, "yes, no or any.")
    return raw == "yes"


def _text(params: Mapping[str, str], name: str, limit: int) -> str | None:
    raw = params.get(name) or ""
    if len(raw) > limit:
        raise _bad(name, f"at most {limit} characters.")
    if "\x00" in raw:
        raise _bad(name, "no NUL characters.")
    return raw.strip() or None


# Every parameter of a filter, as a query string names them (BrowseFilter.as_query).
FILTER_KEYS = tuple("q" if field.name == "text" else field.name for field in fields(BrowseFilter))


# A page of the listing (the portal's or the API's) also carries these.
PAGE_KEYS = ("cursor", "page_size")


def browse_keys_check(keys: Iterable[str], *, paged: bool = False) -> None:
    """A key that is no filter parameter (nor, with `paged`, a page's) is a 400 listing the allowed
    ones: a misspelled filter would otherwise mean "no filter" and show (or export, or buy
    reviews for) every item."""
    allowed = FILTER_KEYS + PAGE_KEYS if paged else FILTER_KEYS
    unknown = sorted(set(keys) - set(allowed))
    if unknown:
        raise ApplicationError(
            f"{', '.join(unknown)[:200]} is not a filter parameter; use {', '.join(allowed)}.",
            details={"parameter": "filter", "unknown": unknown[:20], "allowed": list(allowed)},
        )


def browse_filter_parse(
    params: Mapping[str, str], *, labels: Sequence[str], unknown_refused: bool = False
) -> BrowseFilter:
    """The filter a query string asks for; ApplicationError (400) names the first bad parameter.

    With `unknown_refused` (an action's body, which reopens or buys reviews for every item the
    filter selects) a key that is not a filter's is a 400 too (`browse_keys_check`); a page's
    query carries cursor and page_size as well, so listings check their keys themselves."""
    if unknown_refused:
        browse_keys_check(params)
    label = _text(params, "label", 64)
    if label is not None and label not in labels:
        raise _bad("label", f"not a label of this job; choose one of {', '.join(labels)}.")
    low, high = _share(params, "confidence_min"), _share(params, "confidence_max")
    if low is not None and high is not None and low > high:
        raise _bad("confidence_min", "must not be above confidence_max.")
    expert = params.get("expert") or None
    if expert is not None and expert not in EXPERT:
        raise _bad("expert", f"one of {', '.join(EXPERT)}.")
    sort = params.get("sort") or "id"
    if sort not in SORTS:
        raise _bad("sort", f"one of {', '.join(SORTS)}.")
    text = _text(params, "q", TEXT_MAX)
    if text is not None and sort not in ("id", "-id"):
        raise _bad("q", "a search in item data walks items in id order: sort by id.")
    judged = _yes_no(params, "judged")
    if judged is not None and sort not in ("id", "-id"):
        raise _bad("judged", "this filter walks items in id order: sort by id.")
    raw_model = params.get("model") or ""
    if raw_model and not (raw_model.isascii() and raw_model.isdigit() and len(raw_model) < 19):
        raise _bad("model", "a model's id (a whole number).")
    return BrowseFilter(
        model=int(raw_model) if raw_model else None, model_agrees=_yes_no(params, "model_agrees"),
        label=label, confidence_min=low, confidence_max=high,
        agreement_below=_share(params, "agreement_below"), gold=_yes_no(params, "gold"),
        expert=None if expert == "any" else expert, judged=judged,
        external_id=_text(params, "external_id", EXTERNAL_ID_MAX), text=text, sort=sort,
    )


def page_size_parse(params: Mapping[str, str]) -> int:
    raw = params.get("page_size") or ""
    if not raw:
        return PAGE_DEFAULT
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= PAGE_MAX:
        raise _bad("page_size", f"a whole number from 1 to {PAGE_MAX}.")
    return int(raw)


def cursor_parse(params: Mapping[str, str], *, sort: str) -> Cursor | None:
    """The cursor of a `next` link, checked: it must come from this sort and hold sane numbers."""
    raw = params.get("cursor") or ""
    if not raw:
        return None
    try:
        if len(raw) > 200:
            raise ValueError
        decoded: Any = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        kind, item_id, confidence = decoded
        valid = (
            kind == sort and type(item_id) is int and 0 <= item_id < 2**63
            and (confidence is None if sort in ("id", "-id") else
                 isinstance(confidence, float | int) and math.isfinite(confidence))
        )
        if not valid:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _bad("cursor", "not a cursor this listing gave (or one of another sort): start again.") from None
    return Cursor(sort=sort, item_id=item_id, confidence=None if confidence is None else float(confidence))
