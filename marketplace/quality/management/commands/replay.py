"""python manage.py replay DIR: replay a crowd data set as a job and print consensus accuracy."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from marketplace.consensus import METHODS
from marketplace.quality import replay_dynamic
from marketplace.quality.replaying import replay_run


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError("must be at least 0 and below 1")
    return value


class Command(BaseCommand):
    help = (
        "Import DIR/answers.csv (item,worker,label) as judgments into a fresh job of the replay "
        "organization, use a seeded random fraction of DIR/truth.csv (item,label) as gold items, "
        "run consensus and print its accuracy on the items not used as gold. Ids and labels are "
        "arbitrary strings. Repeated judgments: when a worker judged an item more than once, only "
        "the last row in file order is kept."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("folder", type=Path, metavar="DIR")
        parser.add_argument(
            "--gold-fraction",
            type=_fraction,
            default=0.0,
            metavar="F",
            help="share of the truth used as gold (default 0)",
        )
        parser.add_argument(
            "--method",
            choices=sorted(METHODS),
            default="quorum",
            help="consensus method (default quorum: Dawid-Skene with a pooled prior)",
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the gold draw (default 0)")
        parser.add_argument(
            "--gold-unused",
            action="store_true",
            help="draw the gold split but give the job no gold: scores the same "
            "held-out items as a run with gold, for comparison",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object instead")
        # Dynamic overlap (quality/replay_dynamic.py): a simulation beside fixed overlap, no job.
        parser.add_argument("--dynamic", metavar="MIN..MAX", help="replay dynamic overlap MIN..MAX")
        parser.add_argument("--target", type=float, default=0.9, help="expected accuracy to settle at")
        parser.add_argument("--repeat", type=int, default=1, metavar="N", help="replays: seeds S..S+N-1")
        parser.add_argument("--history", action="store_true", help="workers start from other work")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        for name in ("answers.csv", "truth.csv"):
            if not (folder / name).is_file():
                raise CommandError(
                    f"{folder / name} not found: DIR needs answers.csv and truth.csv"
                )
        if options["dynamic"]:
            self._dynamic(folder, options)
            return
        try:
            report = replay_run(
                folder=folder,
                gold_fraction=options["gold_fraction"],
                method=options["method"],
                seed=options["seed"],
                gold_in_fit=not options["gold_unused"],
            )
        except (ValueError, KeyError) as exc:
            raise CommandError(f"cannot replay {folder}: {exc}") from exc
        if options["json"]:
            data = report.as_dict()
            data["accuracy"] = None if math.isnan(report.accuracy) else round(report.accuracy, 6)
            self.stdout.write(json.dumps(data))
            return
        gold = f"{report.gold_items} gold items" + ("" if report.gold_in_fit else " drawn, unused")
        self.stdout.write(
            f"{folder.name}: {report.method} accuracy {report.accuracy:.4f} on {report.items_scored} "
            f"items not used as gold\n"
            f"  {report.items} items, {report.workers} workers, {report.judgments} judgments "
            f"({report.repeated_rows_dropped} repeated rows dropped), {gold}\n"
            f"  {report.seconds:.2f} s (import {report.import_seconds:.2f} s, consensus "
            f"{report.consensus_seconds:.2f} s); job {report.job_id}, run {report.run_id} {report.run_status}"
        )

    def _dynamic(self, folder: Path, options: dict[str, Any]) -> None:
        try:
            comparison, about = replay_dynamic.replay_dynamic(
                folder=folder, bounds=replay_dynamic.overlap_bounds(options["dynamic"]),
                target=options["target"], seed=options["seed"], repeat=max(options["repeat"], 1),
                history=options["history"],
            )
        except (ValueError, KeyError) as exc:
            raise CommandError(f"cannot replay {folder}: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(replay_dynamic.report_dict(comparison, about)))
        else:
            self.stdout.write(replay_dynamic.report_text(comparison, about))
