"""Pre-labels on the labeling page, in a real browser: Wendy sees "Model suggests: Dog" with the
Dog button marked, nothing chosen for her, and her own key ("c", Cat) decides.

Acme's job shows the pre-labels of its model "spam-bert" 3, which predicted "dog" for every item.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from django.conf import settings

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, PredictionModel
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import ModelName, PredictionRow
from marketplace.labeling.models import Judgment
from marketplace.labeling.prelabels import prelabel_blind
from tests.browser.conftest import arrange, log_in
from tests.factories import PASSWORD, WorkerFactory, open_job_with_items, publish_funded
from tests.threads import until


def _job_with_prelabels() -> Job:
    job = open_job_with_items(items=3, publish=False, title="Pets with pre-labels")
    ids = list(Item.objects.filter(job=job).values_list("pk", flat=True))
    predictions_set(job=job, model=ModelName("spam-bert", "3"),
                    entries=[PredictionEntry(PredictionRow("dog"), item_id=i) for i in ids])
    Job.objects.filter(pk=job.pk).update(
        prelabel_model=PredictionModel.objects.get(name="spam-bert", version="3"))
    job.refresh_from_db()
    return publish_funded(job)


def _worker_shown(item_id: int) -> User:
    """A worker outside the control group for this item: the server holds a share of (item,
    worker) pairs blind (QUORUM_PRELABEL_BLIND_SHARE; labeling/prelabels.py), by a hash of the pair."""
    share = float(settings.QUORUM_PRELABEL_BLIND_SHARE)
    for n in range(100):
        worker = WorkerFactory(username=f"wendy-prelabels-{n}")
        if not prelabel_blind(item_id=item_id, worker_id=worker.pk, share=share):
            return worker
    raise AssertionError("every worker drawn was in the control group")


def test_the_page_shows_the_models_suggestion_and_the_workers_key_decides(page: Any) -> None:
    job = arrange(_job_with_prelabels)
    wendy = arrange(_worker_shown, Item.objects.filter(job=job).order_by("pk").values_list("pk", flat=True)[0])
    log_in(page, wendy.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    expect(page.locator("#item [data-suggestion]")).to_have_text("Model suggests: Dog")
    expect(page.locator('button.choice[data-label="dog"]')).to_have_class("choice suggested")
    expect(page.locator('button.choice[data-label="cat"]')).to_have_class("choice")
    page.keyboard.press("c")
    until(lambda: Judgment.objects.filter(worker=wendy, job=job).exists(), "her answer saved")
    assert Judgment.objects.get(worker=wendy, job=job).label == "cat"
