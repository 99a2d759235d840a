"""python manage.py consensus_sweep: fail dead consensus runs, retry missing completion runs now."""

from __future__ import annotations

import argparse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from marketplace.quality.models import ConsensusRun
from marketplace.quality.tasks import SWEEP_BATCH, consensus_runs_sweep


class Command(BaseCommand):
    help = (
        "What the periodic sweep does, once: fail RUNNING consensus runs whose heartbeat is older "
        "than QUORUM_CONSENSUS_STALE_SECONDS (their process died), send again the runs claimed "
        "over 30 minutes ago that have not started, then claim the completion run "
        "of completed jobs that have none that succeeded (after the backoff of earlier failures). "
        "Under QUORUM_TASKS=celery the claimed runs go to the workers; otherwise they run here, "
        "before the command returns."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=SWEEP_BATCH, metavar="N",
            help=f"completion runs to claim at most (default {SWEEP_BATCH})",
        )

    def handle(self, *args: Any, limit: int, **options: Any) -> None:
        if settings.QUORUM_TASKS == "thread":
            settings.QUORUM_TASKS = "inline"  # this process has no server to lend its threads
        swept = consensus_runs_sweep(limit=limit)
        self.stdout.write(f"Failed {len(swept.abandoned)} dead run(s): {swept.abandoned}")
        self.stdout.write(f"Sent again {len(swept.resent)} run(s) claimed long ago and not started: {swept.resent}")
        runs = ConsensusRun.objects.filter(pk__in=swept.retried).order_by("pk")
        self.stdout.write(f"Claimed {len(swept.retried)} completion run(s):")
        for run in runs:
            self.stdout.write(f"  run {run.pk} of job {run.job_id}: {run.status} {run.error}".rstrip())
