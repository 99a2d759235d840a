"""Label sets (a job's choices, an exam's choices): one shape, one validator.

Pure (no models): accounts and jobs both use it, and neither may import the other's rules.
"""

from __future__ import annotations

import re
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.limits import MAX_LABEL_NAME_CHARS
from marketplace.names import name_clean

MIN_LABELS, MAX_LABELS = 2, 50
# Keys the labeling page (static/js/label.js) keeps for itself, matched lower-cased as the page
# does: a label there could never be chosen by key, or the key would answer instead of undoing.
# Escape, Enter, Ctrl+Z and space are not single visible keys, so the shortcut rule refuses them.
RESERVED_SHORTCUTS = {"u": "undoes your last answer", "?": "opens the list of keys"}
LABEL_FIELDS = ("key", "name", "shortcut")
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def label_set_validate(labels: Any, *, field: str = "labels") -> list[dict[str, str]]:
    """Normalize to [{"key", "name", "shortcut"}], raising on anything ambiguous.

    A bare string stands for {"key": string}. A label object has no other fields than
    LABEL_FIELDS: a misspelled one ("shortuct") would be dropped without a word, so it is a 400
    listing them. Keys are 1-64 safe characters and unique;
    shortcuts are single visible keys, unique regardless of case; names default to the key and
    are refused over MAX_LABEL_NAME_CHARS or with invisible controls (marketplace.names), and
    when two read the same regardless of case and spacing (workers would see two like buttons).
    """
    if not isinstance(labels, list | tuple) or not (MIN_LABELS <= len(labels) <= MAX_LABELS):
        raise ApplicationError(f"{field} must be a list of {MIN_LABELS} to {MAX_LABELS} choices.")
    clean: list[dict[str, str]] = []
    keys: set[str] = set()
    shortcuts: set[str] = set()
    names: dict[str, int] = {}  # name as a worker reads it -> the position that has it
    for position, raw in enumerate(labels, start=1):
        if isinstance(raw, str):
            raw = {"key": raw}
        if not isinstance(raw, dict):
            raise ApplicationError(f"{field}[{position}] must be an object with a key.")
        unknown = sorted(str(name)[:40] for name in set(raw) - set(LABEL_FIELDS))
        if unknown:
            raise ApplicationError(
                f"{field}[{position}]: unknown field(s) {', '.join(unknown)[:200]}; a label has "
                f"{', '.join(LABEL_FIELDS)}.",
                details={"unknown_fields": unknown[:20], "allowed": list(LABEL_FIELDS)},
            )
        key, shortcut = raw.get("key", ""), raw.get("shortcut") or ""
        if not isinstance(key, str) or not isinstance(shortcut, str):
            raise ApplicationError(f"{field}[{position}]: key and shortcut must be text.")
        key, shortcut = key.strip(), shortcut.strip()
        if not KEY_RE.match(key):
            raise ApplicationError(
                f"{field}[{position}]: key {key[:64]!r} must be 1-64 letters, digits, '_', '.' or '-'."
            )
        if key in keys:
            raise ApplicationError(f"{field}[{position}]: key {key!r} appears twice.")
        name = name_clean(raw.get("name") or key, field=f"{field}[{position}] name",
                          max_chars=MAX_LABEL_NAME_CHARS)
        seen = " ".join(name.split()).casefold()
        if seen in names:
            raise ApplicationError(
                f"{field}[{position}]: name {name!r} reads the same as {field}[{names[seen]}]'s; "
                "workers could not tell the two apart.",
                details={"duplicate_name": name, "positions": [names[seen], position]},
            )
        names[seen] = position
        if shortcut:
            if len(shortcut) != 1 or not shortcut.isprintable() or shortcut.isspace():
                raise ApplicationError(f"{field}[{position}]: shortcut must be a single visible key.")
            _shortcut_not_reserved(shortcut, where=f"{field}[{position}]")
            if shortcut.lower() in shortcuts:
                raise ApplicationError(f"{field}[{position}]: shortcut {shortcut!r} is used twice.")
            shortcuts.add(shortcut.lower())
        keys.add(key)
        clean.append({"key": key, "name": name, "shortcut": shortcut})
    return clean


def _shortcut_not_reserved(shortcut: str, *, where: str) -> None:
    does = RESERVED_SHORTCUTS.get(shortcut.lower())
    if does:
        raise ApplicationError(
            f"{where}: shortcut {shortcut!r} is reserved: on the labeling page it {does}. Choose another.",
            details={"shortcut": shortcut, "reserved": True},
        )
