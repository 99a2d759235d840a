"""seed_demo leaves a colluding pair flagged in the open sentiment job, so an admin opening the
staff Collusion page in `make demo` sees a pair with its evidence (and nobody blocked)."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.demo.colluders import PAIR
from marketplace.demo.management.commands.seed_demo import OPEN_JOB_TITLE
from marketplace.demo.simulator import SIM_USERNAME_PREFIX
from marketplace.labeling.models import JobBlock
from marketplace.quality.models import CollusionFlag

pytestmark = pytest.mark.django_db


def test_the_demo_leaves_the_colluding_pair_flagged_and_no_one_else(client: Client) -> None:
    started = time.perf_counter()
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # DEBUG is off in tests
    print(f"seed_demo took {time.perf_counter() - started:.1f} s")
    flags = list(CollusionFlag.objects.select_related("job", "worker_a", "worker_b"))
    assert [(f.job.title, f.worker_a.username, f.worker_b.username) for f in flags] == [
        (OPEN_JOB_TITLE, f"{SIM_USERNAME_PREFIX}{PAIR[0]}", f"{SIM_USERNAME_PREFIX}{PAIR[1]}")
    ]
    (flag,) = flags
    print("demo flag:", flag.evidence["agreement"])
    assert flag.status == CollusionFlag.Status.OPEN and flag.by_agreement
    assert not JobBlock.objects.filter(worker__in=[flag.worker_a, flag.worker_b]).exists()  # a flag blocks no one

    client.force_login(User.objects.get(username="admin"))
    page = client.get(reverse("staff-collusion"))
    assert page.context["flags"] == [flag] and len(page.context["groups"]) == 1

    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # adds nothing
    assert CollusionFlag.objects.count() == 1
