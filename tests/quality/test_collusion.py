"""Collusion flags: a simulated crowd (the demo simulator's workers, one colluding pair among
honest good workers) labels a job through the real claim and submit services; the consensus run
flags the colluding pair, and only it; admins see the pair with its evidence and review it,
and nothing happens to the workers until one of them blocks by hand."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.demo.simulator.crowd import Profile, crowd_build, item_truth, mix_parse
from marketplace.errors import NothingLeft
from marketplace.flows import work_submit
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import JobBlock, Judgment, Lease
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import CollusionFlag, ConsensusRun
from marketplace.quality.reading import judgment_times
from marketplace.quality.runs import consensus_run
from tests.factories import JobFactory, WorkerFactory, publish_funded

pytestmark = pytest.mark.django_db

MIX = mix_parse("good=0.67,colluding=0.33")  # 6 workers: four honest good ones and one pair
SEEDS = (0, 1)


def simulated_job(seed: int, *, items: int = 80, gold: int = 8, overlap: int = 4) -> tuple[Job, dict[int, Profile]]:
    """A job whose gold answers are the simulated truth, labeled to the end by a 6-worker crowd
    in shuffled rounds through lease_claim and work_submit. Returns {worker id: profile}."""
    job = JobFactory(overlap=overlap, gold_rate="0.1")
    keys = job.label_keys
    rows = [ItemRow(data={"text": f"photo {seed}-{i}"}) for i in range(items)]
    gold_rows = [ItemRow(data={"text": f"gold {seed}-{i}"}, gold_label=item_truth({"text": f"gold {seed}-{i}"}, keys))
                 for i in range(gold)]
    item_bulk_create(job=job, rows=rows, gold=False)
    item_bulk_create(job=job, rows=gold_rows, gold=True)
    job = publish_funded(job)
    crowd = crowd_build(n=6, mix=MIX, seed=seed)
    workers = [WorkerFactory(username=f"sim-{seed}-{p.kind}-{p.index}") for p in crowd]
    rng = random.Random(seed)
    active = list(range(len(crowd)))
    while active:
        rng.shuffle(active)
        for n in list(active):
            try:
                lease = lease_claim(worker=workers[n], job=job)
            except NothingLeft:
                active.remove(n)
                continue
            label = crowd[n].answer(item=lease.item_id, data=lease.item.data, label_keys=keys, rng=rng)
            with TestCase.captureOnCommitCallbacks(execute=True):
                work_submit(worker=workers[n], lease_id=lease.pk, label=label)
    return job, {w.pk: p for w, p in zip(workers, crowd, strict=True)}


def colluding_pair(profiles: dict[int, Profile]) -> tuple[int, int]:
    a, b = sorted(pk for pk, p in profiles.items() if p.kind == "colluding")
    return a, b


def test_the_consensus_run_flags_the_colluding_pair_and_no_honest_worker() -> None:
    caught = false_pairs = 0
    for seed in SEEDS:
        job, profiles = simulated_job(seed)
        assert consensus_run(job=job).status == ConsensusRun.Status.SUCCEEDED
        flags = list(CollusionFlag.objects.filter(job=job))
        pairs = {(f.worker_a_id, f.worker_b_id) for f in flags}
        caught += colluding_pair(profiles) in pairs
        false_pairs += len(pairs - {colluding_pair(profiles)})
        flag = next(f for f in flags if (f.worker_a_id, f.worker_b_id) == colluding_pair(profiles))
        agreement = flag.evidence["agreement"]
        print(f"seed {seed}: colluding pair flagged, {len(pairs) - 1} false pairs; agreed "
              f"{agreement['observed']}/{agreement['shared']}, expected {agreement['expected']}, "
              f"p<={flag.p_value:.1e} over {agreement['pairs_tested']} pairs")
        assert flag.by_agreement and flag.status == CollusionFlag.Status.OPEN
        assert agreement["observed"] == agreement["shared"] >= 20
        assert agreement["expected_rate"] < 0.6 and flag.p_value <= 0.01
    assert caught == len(SEEDS) and false_pairs == 0
    assert not JobBlock.objects.exists()  # a flag blocks nobody
    # A later run keeps an admin's verdict (with fresh figures) and drops open flags it no
    # longer supports.
    flag.status = CollusionFlag.Status.DISMISSED
    flag.save()
    unsupported = CollusionFlag.objects.create(job=job, worker_a_id=min(profiles), worker_b_id=max(profiles),
                                               p_value=0.001, evidence={})
    assert (unsupported.worker_a_id, unsupported.worker_b_id) != colluding_pair(profiles)
    second = consensus_run(job=job)
    flag.refresh_from_db()
    assert flag.status == CollusionFlag.Status.DISMISSED and flag.run_id == second.pk
    assert not CollusionFlag.objects.filter(pk=unsupported.pk).exists()


@pytest.fixture
def flagged(db: Any) -> tuple[Job, CollusionFlag]:
    """A flag as a run writes it (the scan itself is tested above; these tests are about the page)."""
    job = JobFactory(title="Animals")
    a, b = sorted((WorkerFactory(username="mallory"), WorkerFactory(username="trent")), key=lambda u: u.pk)
    figures = {"shared": 30, "observed": 30, "expected": 10.2, "observed_rate": 1.0, "expected_rate": 0.34,
               "p_value": 1e-10, "adjusted": 3e-9, "pairs_tested": 28, "flagged": True}
    flag = CollusionFlag.objects.create(job=job, worker_a=a, worker_b=b, by_agreement=True, p_value=3e-9,
                                        evidence={"agreement": figures})
    return job, flag


def _as(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_admins_see_the_pair_and_its_group_with_the_evidence(client: Client, ada: User,
                                                             flagged: tuple[Job, CollusionFlag]) -> None:
    job, flag = flagged
    page = _as(client, ada).get(reverse("staff-collusion"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-flag="{flag.pk}"' in html and job.title in html
    assert flag.worker_a.username in html and flag.worker_b.username in html
    evidence = flag.evidence["agreement"]
    assert f"{evidence['observed']} ({evidence['observed_rate']:.2f})" in html
    (group,) = page.context["groups"]
    assert {w.pk for w in group.workers} == {flag.worker_a_id, flag.worker_b_id}


def test_clients_and_workers_get_404_on_the_collusion_pages(client: Client, alice: User, wendy: User,
                                                            flagged: tuple[Job, CollusionFlag]) -> None:
    _, flag = flagged
    for user in (alice, wendy):
        _as(client, user)
        assert client.get(reverse("staff-collusion")).status_code == 404
        assert client.post(reverse("staff-collusion-review", args=[flag.pk]),
                           {"decision": "confirm"}).status_code == 404
    flag.refresh_from_db()
    assert flag.status == CollusionFlag.Status.OPEN


def test_confirming_records_the_verdict_and_blocks_nobody(client: Client, ada: User,
                                                          flagged: tuple[Job, CollusionFlag]) -> None:
    job, flag = flagged
    response = _as(client, ada).post(reverse("staff-collusion-review", args=[flag.pk]),
                                     {"decision": "confirm", "note": "same answers, same minute"}, follow=True)
    assert response.status_code == 200
    flag.refresh_from_db()
    assert flag.status == CollusionFlag.Status.CONFIRMED and flag.reviewed_by == ada
    assert flag.review_note == "same answers, same minute"
    assert not JobBlock.objects.exists()
    # The page links to each worker's page, where the block action is.
    assert reverse("staff-worker", args=[flag.worker_a_id]) in response.content.decode()
    assert "Nobody was blocked" in response.content.decode()


def test_a_flag_is_reviewed_once_and_a_bad_decision_is_refused(client: Client, ada: User,
                                                               flagged: tuple[Job, CollusionFlag]) -> None:
    _, flag = flagged
    _as(client, ada)
    url = reverse("staff-collusion-review", args=[flag.pk])
    assert client.post(url, {"decision": "delete"}).status_code == 400
    assert client.post(url, {"decision": "dismiss", "note": "x" * 2001}).status_code == 400
    assert client.post(url, {"decision": "dismiss"}).status_code == 302
    assert client.post(url, {"decision": "confirm"}).status_code == 409
    flag.refresh_from_db()
    assert flag.status == CollusionFlag.Status.DISMISSED


def test_a_pair_submitting_in_lockstep_is_flagged_by_timing() -> None:
    """Times rewritten after the fact (submits in a test take milliseconds): every worker claims
    an item within a second of the others and thinks a few seconds of their own, except the
    colluding pair's second account, which submits 0.3 s after the first on every shared item."""
    job, profiles = simulated_job(3)
    a, b = colluding_pair(profiles)
    rng = random.Random(3)
    judgments = list(Judgment.objects.filter(job=job).select_related("lease").order_by("item_id", "worker_id"))
    base = judgments[0].created_at
    by_item: dict[int, dict[int, Judgment]] = {}
    for j in judgments:
        by_item.setdefault(j.item_id, {})[j.worker_id] = j
    for n, (_, row) in enumerate(sorted(by_item.items())):
        start = base + timedelta(seconds=5 * n)
        for worker_id, j in sorted(row.items()):
            claimed = start + timedelta(seconds=rng.uniform(0, 1))
            submitted = claimed + timedelta(seconds=rng.lognormvariate(1.5, 0.6))
            if worker_id == b and a in row:
                submitted = row[a].created_at + timedelta(seconds=0.3)
            j.created_at = submitted
            Lease.objects.filter(pk=j.lease_id).update(created_at=claimed)
            Judgment.objects.filter(pk=j.pk).update(created_at=submitted)
    consensus_run(job=job)
    flags = {(f.worker_a_id, f.worker_b_id): f for f in CollusionFlag.objects.filter(job=job, by_timing=True)}
    assert set(flags) == {(a, b)}
    timing = flags[(a, b)].evidence["timing"]
    print(f"timing: in step {timing['observed']}/{timing['shared']}, expected {timing['expected']}")
    assert timing["observed"] == timing["shared"] and timing["expected_rate"] < 0.7


def test_the_timing_read_gives_every_judgment_of_the_workers_asked_for_and_no_one_elses(
    django_assert_num_queries: Any,
) -> None:
    job, profiles = simulated_job(4)
    a, b = colluding_pair(profiles)
    times = judgment_times(job_id=job.pk, workers=[a])
    assert set(times.workers.tolist()) == {a}
    assert sorted(times.items.tolist()) == sorted(Judgment.objects.filter(job=job, worker_id=a).values_list("item_id", flat=True))
    assert (times.claimed <= times.submitted).all()  # each judgment's lease was claimed before it was submitted
    assert len(judgment_times(job_id=job.pk).items) == Judgment.objects.filter(job=job).count()
    with django_assert_num_queries(0):  # nobody to test: nothing read
        assert len(judgment_times(job_id=job.pk, workers=[]).items) == 0
