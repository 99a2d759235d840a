"""Every address the site answers stays where it was: the routes, their names and the views behind
them are pinned in tests/routes.txt (one line each: pattern, name, view). A moved module keeps
the list; a changed, lost or added route shows here as a one-line diff.

After a deliberate change to the routes, write the list anew:
    python -m tests.test_routes > tests/routes.txt
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

PINNED = Path(__file__).with_name("routes.txt")


def _walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            view = getattr(pattern.callback, "view_class", pattern.callback)
            yield f"{prefix}{pattern.pattern}\t{pattern.name}\t{view.__name__}"


def routes() -> list[str]:
    return list(_walk(get_resolver().url_patterns))


def test_every_route_its_name_and_its_view_are_as_pinned() -> None:
    assert routes() == PINNED.read_text().splitlines()


def test_the_portal_and_api_addresses_resolve_to_the_views_pinned_for_them() -> None:
    samples = {
        ("job-page", (7,)): ("/portal/jobs/7/", "job_page"),
        ("work-label", (7,)): ("/work/jobs/7/label/", "work_label"),
        ("staff-worker", (7,)): ("/staff/workers/7/", "worker"),
        ("work-lease-submit", (7,)): ("/api/v1/work/leases/7/submit/", "LeaseSubmit"),
        ("job-results", (7,)): ("/api/v1/jobs/7/results/", "JobResultsWithConsensus"),
    }
    for (name, args), (path, view) in samples.items():
        assert reverse(name, args=args) == path
        match = resolve(path)
        assert getattr(match.func, "view_class", match.func).__name__ == view


if __name__ == "__main__":  # python -m tests.test_routes > tests/routes.txt
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    django.setup()
    print("\n".join(routes()))


@pytest.mark.django_db
def test_an_id_past_the_largest_bigint_matches_no_route_so_it_is_a_404_not_a_500(client: Client) -> None:
    # <int:> matched any digits and passed the number to the database, whose driver could not send
    # it (SQLite: OverflowError, a 500 the schema fuzz found). The largest bigint still matches.
    largest = 2**63 - 1
    assert client.get(f"/api/v1/jobs/{largest}/").status_code == 401  # matched: asks who is asking
    for too_big in (largest + 1, 10**30):
        answer = client.post(f"/api/v1/webhooks/{too_big}/deliveries/{too_big}/redeliver/")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
        assert client.get(f"/portal/jobs/{too_big}/").status_code == 404
    assert client.get("/api/v1/jobs/0/").status_code == 404  # ids start at 1
