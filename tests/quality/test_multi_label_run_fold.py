"""A multi-label run does what a single-label run does after its fit: the workers' global skill
takes the run's share (measured per label), and the collusion scan looks for pairs (agreement
label by label, timing as it is).

Skill: three workers (made here) judge three items; two tick what the crowd ticks, one ticks
everything. Collusion: six workers judge forty items of a cat/dog/bird job; four tick each label
honestly with 80 % sensitivity and specificity, and one pair tick the same random set on every item.
"""

from __future__ import annotations

import random

import pytest

from marketplace.flows import work_submit
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import Judgment
from marketplace.labeling.services import lease_claim
from marketplace.accounts.models import User
from marketplace.quality.models import CollusionFlag, ConsensusRun
from marketplace.quality.runs import consensus_run
from marketplace.quality.skills import worker_skills
from tests.factories import WorkerFactory, open_job_with_items

pytestmark = pytest.mark.django_db

SAYS = {"careful": {"item 0": ["cat"], "item 1": ["cat", "dog"], "item 2": []},
        "also_careful": {"item 0": ["cat"], "item 1": ["dog", "cat"], "item 2": []},
        "eager": {"item 0": ["cat", "dog", "bird"], "item 1": ["cat", "dog", "bird"], "item 2": ["bird"]}}


def _skills() -> dict[str, tuple[float, float]]:
    """Each worker's global skill as dynamic overlap reads it (gold evidence plus run shares)."""
    names = dict(User.objects.filter(role="worker").values_list("pk", "username"))
    return {names[pk]: (e.right, e.seen) for pk, e in worker_skills(worker_ids=list(names)).items() if e.seen}


def test_a_multi_label_run_gives_each_worker_a_skill_share_measured_per_label() -> None:
    job = open_job_with_items(items=3, overlap=3, multi_label=True)
    for name, answers in SAYS.items():
        worker = WorkerFactory(username=name)
        for _ in range(3):
            lease = lease_claim(worker=worker, job=job)
            work_submit(worker=worker, lease_id=lease.pk, label=None, labels=answers[lease.item.data["text"]])
    assert consensus_run(job=job).status == ConsensusRun.Status.SUCCEEDED
    skills = _skills()
    assert {name: seen for name, (_, seen) in skills.items()} == {"careful": 3, "also_careful": 3, "eager": 3}
    right = {name: r / seen for name, (r, seen) in skills.items()}
    assert right["careful"] > 0.9 and right["eager"] < 0.7  # eager ticks 4 of 9 labels against the crowd
    consensus_run(job=job)  # the next run replaces the job's share: nothing counted twice
    assert {name: seen for name, (_, seen) in _skills().items()} == {"careful": 3, "also_careful": 3, "eager": 3}


def _colluded_job() -> tuple[Job, tuple[int, int]]:
    rng = random.Random(3)
    job = open_job_with_items(items=40, overlap=6, multi_label=True)
    labels = job.label_keys
    honest = [WorkerFactory() for _ in range(4)]
    pair = sorted((WorkerFactory(), WorkerFactory()), key=lambda w: w.pk)
    rows = []
    for item in Item.objects.filter(job=job):
        truth = {label for label in labels if rng.random() < 0.4}
        for worker in honest:
            ticks = [label for label in labels if (label in truth) == (rng.random() < 0.8)]
            rows.append(Judgment(job=job, item=item, worker=worker, label="", labels=ticks))
        copied = [label for label in labels if rng.random() < 0.5]
        rows += [Judgment(job=job, item=item, worker=worker, label="", labels=copied) for worker in pair]
    Judgment.objects.bulk_create(rows)
    return job, (pair[0].pk, pair[1].pk)


def test_a_pair_copying_label_sets_is_flagged_on_a_multi_label_job_and_no_honest_pair() -> None:
    job, pair = _colluded_job()
    assert consensus_run(job=job).status == ConsensusRun.Status.SUCCEEDED
    flags = {(f.worker_a_id, f.worker_b_id): f for f in CollusionFlag.objects.filter(job=job)}
    assert set(flags) == {pair}
    agreement = flags[pair].evidence["agreement"]
    assert flags[pair].by_agreement and agreement["flagged"] is True
    assert agreement["label"] in {"cat", "dog", "bird"} and agreement["labels_tested"] == 3
    assert agreement["observed"] == agreement["shared"] == 40
    assert flags[pair].p_value <= 0.01
