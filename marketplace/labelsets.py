"""Label sets (a job's choices, an exam's choices): one shape, one validator.

Pure (no models): accounts and jobs both use it, and neither may import the other's rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    The first problem label_set_problems finds is the error.
    """
    clean, problems = label_set_problems(labels, field=field)
    if problems:
        raise problems[0]
    return clean


def label_set_problems(
    labels: Any, *, field: str = "labels", where: Callable[[int], str] | None = None
) -> tuple[list[dict[str, str]], list[ApplicationError]]:
    """Every problem of a label set, in order (label_set_validate's rules), and the labels that
    passed, normalized: a page shows all of them at once. `where(position)` names a label in
    the messages (1-based; the API's "labels[2]" by default, a page's "Label 2")."""
    at = where or (lambda position: f"{field}[{position}]")
    if not isinstance(labels, list | tuple):
        return [], [ApplicationError(f"{field} must be a list of {MIN_LABELS} to {MAX_LABELS} choices.")]
    problems: list[ApplicationError] = []
    if not MIN_LABELS <= len(labels) <= MAX_LABELS:
        problems.append(ApplicationError(f"{field} must be a list of {MIN_LABELS} to {MAX_LABELS} choices.",
                                         details={"count": len(labels)}))
        if len(labels) > MAX_LABELS:
            return [], problems
    clean: list[dict[str, str]] = []
    keys: set[str] = set()
    shortcuts: set[str] = set()
    names: dict[str, int] = {}  # name as a worker reads it -> the position that has it
    for position, raw in enumerate(labels, start=1):
        found = _label_problems(raw, position, at, keys=keys, shortcuts=shortcuts, names=names)
        if isinstance(found, dict):
            clean.append(found)
        else:
            problems += found
    return clean, problems


def _label_problems(raw: Any, position: int, at: Callable[[int], str], *, keys: set[str],
                    shortcuts: set[str], names: dict[str, int]) -> dict[str, str] | list[ApplicationError]:
    """One label normalized, or its problems (key, name and shortcut each checked: one bad part
    hides no other). Records its key, shortcut and name in the sets, so later labels are compared."""
    if isinstance(raw, str):
        raw = {"key": raw}
    if not isinstance(raw, dict):
        return [ApplicationError(f"{at(position)} must be an object with a key.")]
    unknown = sorted(str(name)[:40] for name in set(raw) - set(LABEL_FIELDS))
    if unknown:
        return [ApplicationError(
            f"{at(position)}: unknown field(s) {', '.join(unknown)[:200]}; a label has "
            f"{', '.join(LABEL_FIELDS)}.",
            details={"unknown_fields": unknown[:20], "allowed": list(LABEL_FIELDS)},
        )]
    key, shortcut = raw.get("key", ""), raw.get("shortcut") or ""
    if not isinstance(key, str) or not isinstance(shortcut, str):
        return [ApplicationError(f"{at(position)}: key and shortcut must be text.")]
    key, shortcut = key.strip(), shortcut.strip()
    problems: list[ApplicationError] = []
    if not KEY_RE.match(key):
        problems.append(ApplicationError(
            f"{at(position)}: key {key[:64]!r} must be 1-64 letters, digits, '_', '.' or '-'."))
    elif key in keys:
        problems.append(ApplicationError(f"{at(position)}: key {key!r} appears twice."))
    keys.add(key)
    name = ""
    try:
        name = name_clean(raw.get("name") or key, field=f"{at(position)} name", max_chars=MAX_LABEL_NAME_CHARS)
    except ApplicationError as exc:
        problems.append(exc)
    seen = " ".join(name.split()).casefold()
    if name and seen in names:
        problems.append(ApplicationError(
            f"{at(position)}: name {name!r} reads the same as {at(names[seen])}'s; "
            "workers could not tell the two apart.",
            details={"duplicate_name": name, "positions": [names[seen], position]},
        ))
    elif name:
        names[seen] = position
    if shortcut:
        if len(shortcut) != 1 or not shortcut.isprintable() or shortcut.isspace():
            problems.append(ApplicationError(f"{at(position)}: shortcut must be a single visible key."))
        elif shortcut.lower() in RESERVED_SHORTCUTS:
            problems.append(_shortcut_reserved(shortcut, where=at(position)))
        elif shortcut.lower() in shortcuts:
            problems.append(ApplicationError(f"{at(position)}: shortcut {shortcut!r} is used twice."))
        shortcuts.add(shortcut.lower())
    return problems or {"key": key, "name": name, "shortcut": shortcut}


def _shortcut_reserved(shortcut: str, *, where: str) -> ApplicationError:
    does = RESERVED_SHORTCUTS[shortcut.lower()]
    return ApplicationError(
        f"{where}: shortcut {shortcut!r} is reserved: on the labeling page it {does}. Choose another.",
        details={"shortcut": shortcut, "reserved": True},
    )
