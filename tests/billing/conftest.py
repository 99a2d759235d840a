"""Billing fixtures. The default tiers are seeded by a data migration, but a transactional test
(`django_db(transaction=True)`, anywhere in the suite) empties every table when it ends, seeds
included; so every billing test puts them back first (get_or_create: a no-op when present)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from marketplace.billing.models import Tier

SEED = importlib.import_module("marketplace.billing.migrations.0002_seed_tiers")


@pytest.fixture(autouse=True)
def default_tiers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("django_db") is None:
        return  # a pure test: no database
    request.getfixturevalue("db" if not _transactional(request) else "transactional_db")
    for fields in SEED.TIERS:
        Tier.objects.get_or_create(slug=fields["slug"], defaults=fields)


def _transactional(request: Any) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
