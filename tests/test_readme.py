"""The README stays true: every environment variable the settings read is in its configuration table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_environment_variable_the_settings_read_is_documented() -> None:
    settings = "".join((ROOT / "marketplace" / name).read_text() for name in ("settings.py", "settings_rules.py", "settings_db.py"))
    read = set(re.findall(r'env_(?:str|int|bool|list|decimal|float)\(\s*"([A-Z_]+)"', settings))
    table = {m for m in re.findall(r"^\| `([A-Z_]+)`", (ROOT / "README.md").read_text(), re.M)}
    assert read, "the settings read no environment variable?"
    assert read <= table, f"not in README's configuration table: {sorted(read - table)}"
