"""python manage.py replay DIR: replay a crowd data set as a job and print consensus accuracy."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from marketplace.consensus import METHODS, REPEATS, answers_file
from marketplace.quality import replay_dynamic
from marketplace.quality.replay_series import ReplaySeries, replay_series
from marketplace.quality.replaying import ReplayReport


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError("must be at least 0 and below 1")
    return value


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def _report_dict(report: ReplayReport) -> dict[str, Any]:
    data = report.as_dict()
    data["accuracy"] = _rounded(report.accuracy)
    return data


class Command(BaseCommand):
    help = (
        "Import DIR/answers.csv (item,worker,label) as judgments into a fresh job of the replay "
        "organization, use a seeded random fraction of DIR/truth.csv (item,label) as gold items, "
        "run consensus and print its accuracy on the items not used as gold. Ids and labels are "
        "arbitrary strings. Repeated judgments (a worker judging an item more than once) keep "
        "the last row in file order unless --repeats says otherwise."
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
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="seed of the gold draw and of --subsample (default 0)",
        )
        parser.add_argument(
            "--gold-unused",
            action="store_true",
            help="draw the gold split but give the job no gold: scores the same "
            "held-out items as a run with gold, for comparison",
        )
        parser.add_argument(
            "--subsample",
            type=_positive,
            metavar="K",
            help="import only K judgments per item, drawn at random with the seed "
            "(items with fewer keep all)",
        )
        parser.add_argument(
            "--repeat",
            type=_positive,
            default=1,
            metavar="N",
            help="replay N times with seeds SEED .. SEED+N-1 (each a fresh job; the seed draws "
            "the gold split and the subsample) and print the accuracy's mean and standard "
            "deviation (default 1)",
        )
        parser.add_argument(
            "--repeats",
            choices=REPEATS,
            default="last",
            help="a worker's repeated judgments of one item: keep the last row (default), the "
            "first, or drop every row of the pair",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="print one JSON object instead (with --repeat N > 1: accuracy_mean, "
            "accuracy_sd, seeds and runs, one report per seed)",
        )
        # Dynamic overlap (quality/replay_dynamic.py): a simulation beside fixed overlap, no job.
        parser.add_argument("--dynamic", metavar="MIN..MAX", help="replay dynamic overlap MIN..MAX")
        parser.add_argument(
            "--target",
            default="0.9",
            metavar="T[,T...]",
            help="expected accuracy to settle at; several, joined by commas, replay a sweep in "
            "the same arrival orders (default 0.9)",
        )
        parser.add_argument("--history", action="store_true", help="workers start from other work")
        parser.add_argument(
            "--model-accuracy",
            type=float,
            metavar="A",
            help="with --dynamic: a simulated model, right with probability A on each item (else "
            "a uniformly wrong label; seeded, independent of the crowd), votes as one more "
            "worker; printed beside the same replays without it",
        )
        parser.add_argument(
            "--serve-margin",
            type=float,
            metavar="M",
            help="with --dynamic: serve only workers whose expected accuracy is at least M of "
            "the way from chance to perfect (the product uses 0.2); also compared with fixed "
            "overlap serving the same workers",
        )

        parser.add_argument(
            "--oracle",
            nargs="?",
            const="both",
            choices=("stop", "serve", "both"),
            help="with --dynamic: the workers' true confusions (measured on the truth) stand in "
            "for the stopping posterior, the serving rule, or both (the default): the bound a "
            "rule that knew its workers would reach",
        )
        parser.add_argument(
            "--fill",
            action="store_true",
            help="with --dynamic: an item the data set runs out of before it settles takes "
            "judgments from the average served worker (as it would wait for new workers), and "
            "so does fixed overlap, so those judgments are charged",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        for path in (answers_file(folder), folder / "truth.csv"):
            if not path.is_file():
                raise CommandError(
                    f"{path} not found: DIR needs answers.csv (or answer.csv) and truth.csv"
                )
        if options["dynamic"]:
            self._dynamic(folder, options)
            return
        try:
            series = replay_series(
                folder=folder,
                repeat=options["repeat"],
                seed=options["seed"],
                gold_fraction=options["gold_fraction"],
                method=options["method"],
                gold_in_fit=not options["gold_unused"],
                subsample_k=options["subsample"],
                repeats=options["repeats"],
            )
        except (ValueError, KeyError) as exc:
            raise CommandError(f"cannot replay {folder}: {exc}") from exc
        failed = [run for run in series.runs if run.run_status != "succeeded"]
        if failed:  # no accuracy to print: say why, and exit non-zero
            raise CommandError(f"cannot replay {folder}: consensus run {failed[0].run_id} "
                               f"{failed[0].run_status}: {failed[0].run_error or 'see the log'}")
        if options["json"]:
            self.stdout.write(json.dumps(self._json(series)))
            return
        self.stdout.write(self._text(folder.name, series))

    def _json(self, series: ReplaySeries) -> dict[str, Any]:
        if len(series.runs) == 1:
            return _report_dict(series.runs[0])
        return {
            "method": series.runs[0].method,
            "seeds": [run.seed for run in series.runs],
            "accuracy_mean": _rounded(series.accuracy_mean),
            "accuracy_sd": _rounded(series.accuracy_sd),
            "runs": [_report_dict(run) for run in series.runs],
        }

    def _text(self, name: str, series: ReplaySeries) -> str:
        first = series.runs[0]
        if len(series.runs) == 1:
            headline = f"{name}: {first.method} accuracy {first.accuracy:.4f}"
        else:
            seeds = f"seeds {first.seed}..{series.runs[-1].seed}"
            headline = (
                f"{name}: {first.method} accuracy {series.accuracy_mean:.4f} mean, "
                f"{series.accuracy_sd:.4f} sd over {len(series.runs)} {seeds}"
            )
        gold = f"{first.gold_items} gold items" + ("" if first.gold_in_fit else " drawn, unused")
        per_item = "" if first.subsample is None else f", subsampled to {first.subsample} per item"
        lines = [
            f"{headline} on {first.items_scored} items not used as gold",
            f"  {first.items} items, {first.workers} workers, {first.judgments} judgments"
            f"{per_item}; {first.rows_read} rows read, {first.repeated_rows_dropped} dropped "
            f"for {first.repeated_pairs} repeated (item, worker) pairs (--repeats "
            f"{first.repeats}); {gold}",
        ]
        if first.blank_rows_dropped or first.truth_blank_rows_dropped:
            lines.append(
                f"  dropped for a blank cell: {first.blank_rows_dropped} rows of answers.csv (item, "
                f"worker or label), {first.truth_blank_rows_dropped} of truth.csv (item or label)"
            )
        for run in series.runs:
            several = len(series.runs) > 1
            seed = f"seed {run.seed}: accuracy {run.accuracy:.4f}, " if several else ""
            lines.append(
                f"  {seed}{run.seconds:.2f} s (import {run.import_seconds:.2f} s, consensus "
                f"{run.consensus_seconds:.2f} s); job {run.job_id}, run {run.run_id} {run.run_status}"
            )
        return "\n".join(lines)

    def _dynamic(self, folder: Path, options: dict[str, Any]) -> None:
        try:
            comparisons, about = replay_dynamic.replay_dynamic(
                folder=folder,
                bounds=replay_dynamic.overlap_bounds(options["dynamic"]),
                targets=replay_dynamic.targets_of(options["target"]),
                seed=options["seed"],
                repeat=max(options["repeat"], 1),
                history=options["history"],
                model_accuracy=options["model_accuracy"],
                serve_margin=options["serve_margin"],
                oracle=options["oracle"] or "",
                fill=options["fill"],
            )
        except (ValueError, KeyError) as exc:
            raise CommandError(f"cannot replay {folder}: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(replay_dynamic.report_dict(comparisons, about)))
        else:
            self.stdout.write(replay_dynamic.report_text(comparisons, about))
