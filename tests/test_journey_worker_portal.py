"""A worker's whole life in the portal pages, with no API token and no service called by the test:
sign up, label on the labeling page's own endpoints, appeal a missed check item, have the client
uphold it, ask for the released pay, and see it paid once an admin's batch goes through the
staff pages. The release schedule's task does the release, as beat would send it.

Alice's Acme job (published over the API) mixes in two check items whose right answer is "cat";
Wenona, new, answers "dog" to everything, so the page shows her the right answer where a check item comes. Ada is
the admin who pays. The amount is the count of her accepted answers × the job's pay.
"""

from __future__ import annotations

import json
import random
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from marketplace import tasking
from marketplace.billing import tasks  # noqa: F401 (registers the task beat sends)
from marketplace.billing.audit import ledger_audit
from marketplace.celery import app
from marketplace.labeling import claiming
from marketplace.labeling.models import Judgment, JudgmentStatus
from tests.factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _published_job(api: Any, admin: Any, organization: int) -> int:
    topup = admin.post("/api/v1/admin/topups/", {"organization": organization, "amount": "10.00",
                                                 "payment_reference": "wire-1"}, format="json")
    assert topup.status_code == 201, topup.content
    job = api.post("/api/v1/jobs/", {"title": "Animals", "labels": [{"key": "cat"}, {"key": "dog"}],
                                     "overlap": 1, "gold_rate": "0.5"}, format="json").json()["id"]
    items = "external_id,text\n" + "".join(f"a{n},thing {n}\n" for n in range(4))
    gold = "external_id,text,label,explanation\ng1,meows,cat,It meows.\ng2,purrs,cat,It purrs.\n"
    assert api.post(f"/api/v1/jobs/{job}/items/", items, content_type="text/csv").status_code == 201
    assert api.post(f"/api/v1/jobs/{job}/gold/", gold, content_type="text/csv").status_code == 201
    assert api.post(f"/api/v1/jobs/{job}/publish/").status_code == 200
    return int(job)


def _logged_in(username: str) -> Client:
    browser = Client()
    answer = browser.post("/login/", {"username": username, "password": PASSWORD})
    assert answer.status_code == 302, answer.content
    return browser


def _label_everything(page: Client, job: int, label: str) -> list[int]:
    """The labeling page's loop: fetch an item, answer, take the next the answer carries; the
    judgments whose feedback showed the right answer."""
    assert page.get(f"/work/jobs/{job}/label/").status_code == 200
    lease = page.post(f"/work/jobs/{job}/label/next/", "{}", content_type="application/json").json()["next"]
    missed: list[int] = []
    while lease:
        answer = page.post(f"/work/leases/{lease['lease']}/answer/", json.dumps({"label": label}),
                           content_type="application/json")
        assert answer.status_code == 200, answer.content
        submitted = answer.json()["submitted"]
        if submitted["feedback"]:
            assert submitted["feedback"]["correct_label"] == "cat"
            missed.append(submitted["judgment"])
        lease = answer.json()["next"]
    return missed


def _figure(page: Client, field: str) -> str:
    html = page.get("/work/earnings/").content.decode()
    found = re.search(rf'data-field="{field}">([^<]*)<', html)
    assert found, f"the earnings page shows no {field}"
    return found.group(1)


def test_a_worker_signs_up_labels_appeals_and_is_paid_through_the_pages_alone(
    alice: Any, ada: Any, client_for: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.QUORUM_MIN_PAYOUT = "0.10"
    monkeypatch.setattr(tasking, "close_old_connections", lambda: None)  # the test's connection
    job = _published_job(client_for(alice), client_for(ada), alice.organization_id)

    wenona = Client()
    signed_up = wenona.post("/signup/?role=worker", {
        "username": "wenona", "email": "wenona@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "role": "worker"}, follow=True)
    assert signed_up.redirect_chain[-1][0] == "/work/"
    assert f"/work/jobs/{job}/label/" in signed_up.content.decode()

    monkeypatch.setattr(claiming, "_rng", random.Random(3))  # which claims are gold: seeded
    missed = _label_everything(wenona, job, "dog")
    assert missed  # a check item answered wrong, and the page said so

    offered = wenona.get("/work/appeals/").content.decode()
    assert all(f'value="gold:{judgment}"' in offered for judgment in missed)
    filed = wenona.post("/work/appeals/new/", {"subject": f"gold:{missed[0]}",
                                               "reason": "It could be a dog that purrs."}, follow=True)
    assert filed.status_code == 200 and filed.redirect_chain[-1][0] == "/work/appeals/"

    alice_pages = _logged_in(alice.username)
    listed = alice_pages.get("/portal/appeals/").content.decode()
    appeal = re.search(r"/portal/appeals/(\d+)/decide/", listed)
    assert appeal, "the client sees no appeal to decide"
    decided = alice_pages.post(appeal.group(0), {"verdict": "uphold", "gold_action": "retire",
                                                 "note": "Fair: it is ambiguous."}, follow=True)
    assert decided.status_code == 200
    assert "Upheld" in wenona.get("/work/appeals/").content.decode()

    pay = Decimal(client_for(alice).get(f"/api/v1/jobs/{job}/").json()["reward_per_judgment"])
    owed = Judgment.objects.filter(worker__username="wenona", status=JudgmentStatus.ACCEPTED).count() * pay
    owed = owed.quantize(Decimal("0.01"))
    assert owed >= Decimal("0.10") and _figure(wenona, "available") == "$0.00"
    later = timezone.now() + timedelta(days=settings.QUORUM_EARNINGS_HOLD_DAYS, hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        app.loader.import_default_modules()
        app.tasks[app.conf.beat_schedule["earnings-release"]["task"]].apply()
    assert _figure(wenona, "available") == f"${owed}"

    form = wenona.get("/work/earnings/").content.decode()
    key = re.search(r'name="key" value="([^"]*)"', form)
    asked = wenona.post("/work/earnings/", {"amount": str(owed), "key": key.group(1) if key else ""}, follow=True)
    assert f"Payout of ${owed} requested" in asked.content.decode()
    assert _figure(wenona, "in_flight") == f"${owed}"

    ada_pages = _logged_in(ada.username)
    batch = ada_pages.post("/staff/payouts/batches/")
    assert batch.status_code == 302 and re.fullmatch(r"/staff/payouts/\d+/", batch["Location"])
    for action in ("approve", "export", "paid"):
        assert ada_pages.post(f"{batch['Location']}{action}/").status_code in (200, 302)
    assert (_figure(wenona, "paid"), _figure(wenona, "in_flight")) == (f"${owed}", "$0.00")
    assert ledger_audit().violations == []
