"""Portal pages (being built)."""

from typing import Any

urlpatterns: list[Any] = []
