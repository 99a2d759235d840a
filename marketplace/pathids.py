"""The `<id:...>` path converter every URL with a row's id uses, in place of Django's `<int:...>`.

`<int:>` matches any run of digits, and an id past the largest bigint reached the database driver:
SQLite's raises OverflowError ("Python int too large to convert to SQLite INTEGER"), a 500 (found
by the schema fuzz on the embedded default). Here such a path matches nothing, so it is the 404 of
an id that names no row, as an id in a body or a query is refused (parsing.id_value, MAX_ID).
marketplace/urls.py registers it before any URL module is read.
"""

from __future__ import annotations

from marketplace.limits import MAX_ID


class IdConverter:
    regex = "[0-9]{1,19}"  # MAX_ID has 19 digits; to_python refuses the 19-digit ones above it

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValueError(f"{value} is not an id")  # the pattern does not match: a 404
        return number

    def to_url(self, value: int) -> str:
        return str(value)
