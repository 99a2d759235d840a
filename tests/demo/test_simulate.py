"""`manage.py simulate` against a real server: daphne in a subprocess serving this test's
PostgreSQL database over real HTTP (like tests/browser/conftest.py), so the data the test
commits is what the simulated workers label. Skipped on SQLite: the server process cannot see
an in-memory test database."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from marketplace.demo.simulator.client import Options
from marketplace.demo.simulator.crowd import item_truth, mix_parse
from marketplace.demo.simulator.run import Accounts, simulate
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import Judgment, Lease
from tests.factories import PASSWORD, ClientFactory, JobFactory, WorkerFactory, publish_funded
from tests.live_server import daphne

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["cat", "dog", "bird"]

pytestmark = [
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL): the "
                       "server runs in its own process and must see this test database"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def server_url(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with daphne(tmp_path_factory.mktemp("daphne") / "daphne.log") as url:
        yield url


def _job(items: int) -> Job:
    """Acme's open job; gold answers are the simulated truth, as seed_demo makes them."""
    client = ClientFactory(username="sim-client")
    job = JobFactory(organization=client.organization, overlap=3, gold_rate="0.1")
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"photo {i}"}, external_id=f"i{i}")
                                    for i in range(items)], gold=False)
    gold = [{"text": f"gold photo {i}"} for i in range(6)]
    item_bulk_create(job=job, rows=[ItemRow(data=d, external_id=f"g{i}", gold_label=item_truth(d, KEYS))
                                    for i, d in enumerate(gold)], gold=True)
    job.refresh_from_db()
    return publish_funded(job)


def _simulate(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("simulate", *args, "--progress", "none", "--json", stdout=out)
    return dict(json.loads(out.getvalue()))


def test_a_loaded_crowd_labels_exactly_the_items_asked_with_no_errors_and_a_scored_report(
    server_url: str,
) -> None:
    job = _job(items=30)
    for n in range(1, 7):
        WorkerFactory(username=f"sim-worker-{n}")
    report = _simulate("--url", server_url, "--workers", "6", "--items", "45", "--no-think",
                       "--job", str(job.pk), "--seed", "3", "--client", f"sim-client:{PASSWORD}",
                       "--password", PASSWORD, "--mix", "good=0.5,noisy=0.17,colluding=0.33")
    assert report["errors_total"] == 0, report["errors"]
    assert report["accepted_judgments"] == 45 == Judgment.objects.filter(job=job).count()
    # One request per judgment: each worker asks work/next/ once, then every submit brings the next.
    assert report["latency_ms"]["submit"]["count"] == 45 and report["latency_ms"]["next"]["count"] == 6
    assert report["mix"] == {"colluding": 2, "good": 3, "noisy": 1}
    # Consensus was run and read through the client's API, scored against the simulated truth.
    consensus = report["server"]["jobs"][str(job.pk)]["consensus"]
    assert consensus["accuracy"] is not None and consensus["judgments"] > 0
    # The cost the simulator computed is what the ledger paid the workers.
    assert report["server"]["earnings_delta"] == report["cost"]["worker_pay"] != "0.00"
    pairs = Judgment.objects.values_list("item_id", "worker_id")
    assert len(set(pairs)) == len(pairs)


def test_a_benchmark_is_told_when_the_crowd_starts_and_stops_labelling(server_url: str) -> None:
    """The marks bracket every judgment and none of the reads around them (bench http-load
    counts CPU between them)."""
    job = _job(items=10)
    for n in range(1, 4):
        WorkerFactory(username=f"sim-worker-{n}")
    connection.ensure_connection()
    raw = connection.connection  # Django refuses its own cursor inside the crowd's event loop
    marks: list[tuple[str, int]] = []

    def on_crowd(phase: str) -> None:
        marks.append((phase, raw.execute("SELECT count(*) FROM labeling_judgment").fetchone()[0]))

    report = asyncio.run(simulate(
        url=server_url, options=Options(workers=3, items=12, think_ms=0, job=job.pk, progress="none"),
        mix=mix_parse("good=1"), accounts=Accounts(owner=("sim-client", PASSWORD), password=PASSWORD),
        on_crowd=on_crowd))

    assert report["accepted_judgments"] == 12
    assert marks == [("start", 0), ("end", 12)]
    assert report["server"]["earnings_delta"] != "0.00"  # the reads after the crowd still ran


def _first_leases_span(server_url: str, job: Job, *, spread: bool) -> float:
    """Seconds between the first and the last worker's first lease in a 6-second run."""
    since = timezone.now()
    asyncio.run(simulate(
        url=server_url, options=Options(workers=8, duration=6.0, think_ms=4000, job=job.pk,
                                        progress="none", spread_start=spread),
        mix=mix_parse("good=1"), accounts=Accounts(password=PASSWORD), server=False))
    leases = Lease.objects.filter(job=job, created_at__gte=since)
    firsts = [min(leases.filter(worker__username=f"sim-worker-{n}").values_list("created_at", flat=True))
              for n in range(1, 9)]
    return (max(firsts) - min(firsts)).total_seconds()


def test_thinking_workers_arrive_one_by_one_as_a_crowd_at_work_does_unless_asked_to_come_at_once(
    server_url: str,
) -> None:
    job = _job(items=40)
    for n in range(1, 9):
        WorkerFactory(username=f"sim-worker-{n}")
    # Each starts at its own moment within one mean think time (4 s), so a load test at 1,000
    # workers measures a crowd at work, not 1,000 first requests in one instant.
    assert _first_leases_span(server_url, job, spread=True) > 1.0
    assert _first_leases_span(server_url, job, spread=False) < 1.0


def test_workers_signed_up_through_the_api_run_until_the_work_is_gone(server_url: str) -> None:
    job = _job(items=4)
    report = _simulate("--url", server_url, "--workers", "3", "--create-workers", "--prefix", "t-sim-",
                       "--password", "a-long-simulated-passphrase", "--no-think", "--job", str(job.pk),
                       "--mix", "good=1")
    # 4 items × overlap 3, plus the gold mixed in; then every worker finds no work and it stops.
    job.refresh_from_db()
    assert report["accepted_judgments"] >= 12 and report["no_work_polls"] >= 3, (report, job.__dict__)
    assert report["errors_total"] == 0
    job.refresh_from_db()
    assert job.status == "completed"
    assert report["server"]["note"].startswith("no client credentials")


def test_a_crowd_larger_than_the_servers_sign_up_limit_is_told_which_setting_to_raise(tmp_path: Path) -> None:
    job = _job(items=2)
    with daphne(tmp_path / "daphne.log", QUORUM_SIGNUPS_PER_HOUR="2") as url, \
            pytest.raises(CommandError) as refused:
        _simulate("--url", url, "--workers", "3", "--create-workers", "--prefix", "t-lim-",
                  "--password", "a-long-simulated-passphrase", "--no-think", "--job", str(job.pk))
    message = str(refused.value)
    assert "refused (429)" in message and "QUORUM_SIGNUPS_PER_HOUR=0" in message, message
    assert not Judgment.objects.filter(job=job).exists()  # nothing labelled: the crowd never started


def test_workers_sharing_few_connections_take_turns_so_each_labels_its_share(server_url: str) -> None:
    job = _job(items=30)
    for n in range(1, 7):
        WorkerFactory(username=f"sim-worker-{n}")
    report = _simulate("--url", server_url, "--workers", "6", "--connections", "2", "--items", "48",
                       "--no-think", "--job", str(job.pk), "--seed", "5", "--mix", "good=1",
                       "--password", PASSWORD)
    assert report["errors_total"] == 0, report["errors"]
    per_worker = Counter(Judgment.objects.filter(job=job).values_list("worker__username", flat=True))
    # Six workers on two connections, 48 judgments: eight each when they take turns. A worker
    # that was just answered must not send again ahead of the others waiting for the connection.
    assert sorted(per_worker) == [f"sim-worker-{n}" for n in range(1, 7)]
    assert min(per_worker.values()) >= 6, per_worker
