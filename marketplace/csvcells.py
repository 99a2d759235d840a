"""One rule for every CSV Quorum writes for spreadsheets (results, the data browser's export,
payout files, invoices): a text cell a spreadsheet would run as a formula is written as text.
The raw judgments export is for programs (crowd-kit's input) and is written as stored
(jobs/exporting.py): a guarded id would no longer join a truth file.

A cell starting with = + - @ (or a tab or carriage return, which some spreadsheets skip before
reading one) is prefixed with an apostrophe, as OWASP advises; numbers the code itself writes
(amounts, counts) are not text cells and go out as they are.
"""

from __future__ import annotations

from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def number_cell(value: float | None) -> str:
    """A figure (confidence, agreement) as every CSV writes it: the shortest text that reads back
    as the same number ("1.0", "0.8734"), as the JSON exports write it; empty for none."""
    return "" if value is None else repr(float(value))


def csv_cell(value: Any) -> Any:
    """`value` safe to write as a CSV cell: formula-like text is prefixed with "'"."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
