"""Every template as Django reads it: a `{# #}` comment ends on its own line, or its text is shown
to whoever opens the page (the appeals pages printed theirs)."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def test_no_template_comment_runs_past_its_line() -> None:
    open_ended = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any("#}" not in line[start.end():] for start in re.finditer(r"\{#", line))
    ]
    assert not open_ended, f"multi-line {{# #}} (use {{% comment %}}): {open_ended}"
