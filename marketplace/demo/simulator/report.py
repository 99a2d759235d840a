"""What a simulation measured, and the report it ends with (text or JSON).

`Stats` is filled by the worker loops (simulator/client.py) as they go; `report_build` turns it
and what the server said at the end (consensus, earnings) into one plain dict, and
`report_text` prints that dict for people. Money is Decimal, shown with 2 places.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from marketplace.demo.simulator.crowd import Profile, item_truth, majority

CENTS = Decimal("0.01")


def money(amount: Decimal) -> Decimal:
    """Round like billing.pricing.money: to cents, half to even."""
    return amount.quantize(CENTS, rounding=ROUND_HALF_EVEN)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


@dataclass
class Judged:
    """One accepted judgment, as the simulator saw it."""

    job: int
    item: str  # crowd.item_key of its data: workers are not told item ids
    worker: int  # profile index
    label: str
    truth: str


@dataclass
class Stats:
    profiles: list[Profile]
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    # next: POST work/next/ (once per worker, then only when a submit brought no next lease);
    # submit: POST work/leases/<id>/submit/ with "next": true, so it includes the next claim.
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"next": [], "submit": []})
    # Beside each latency, when its request was asked: seconds since the crowd started.
    asked_at: dict[str, list[float]] = field(default_factory=lambda: {"next": [], "submit": []})
    errors: Counter[str] = field(default_factory=Counter)
    no_work: int = 0
    busy: int = 0  # work/next/ answered busy: items left, held by other workers' submits a moment
    retried: int = 0  # submits answered 200: the server already had this answer
    accepted: int = 0
    judged: list[Judged] = field(default_factory=list)
    label_keys: dict[int, list[str]] = field(default_factory=dict)  # job -> its keys, in order
    rewards: dict[int, Decimal] = field(default_factory=dict)  # job -> pay per judgment
    retired: dict[int, str] = field(default_factory=dict)  # profile index -> why it stopped
    interrupted: bool = False

    def record(self, *, job: int, item: str, worker: int, label: str, data: Any) -> None:
        keys = self.label_keys[job]
        self.accepted += 1
        self.judged.append(Judged(job=job, item=item, worker=worker, label=label,
                                  truth=item_truth(data, keys)))

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def _latency_table(stats: Stats, *, after: float = 0.0) -> dict[str, dict[str, float]]:
    """Per request kind: count, p50/p95/p99 and max in ms, of the requests asked `after` seconds
    or more into the crowd's run."""
    table = {}
    for name, values in stats.latencies.items():
        asked = stats.asked_at.get(name) or [0.0] * len(values)
        ordered = sorted(v for v, at in zip(values, asked, strict=True) if at >= after)
        table[name] = {
            "count": len(ordered),
            **{f"p{q}": round(percentile(ordered, q) * 1000, 1) for q in (50, 95, 99)},
            "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 1),
        }
    return table


def _local_accuracy(stats: Stats) -> dict[str, Any]:
    """Per job: majority vote over this run's judgments against the simulated truth, and each
    kind's raw accuracy (a sanity check that the confusion matrices do what they say)."""
    per_item: dict[tuple[int, str], list[Judged]] = defaultdict(list)
    for judged in stats.judged:
        per_item[(judged.job, judged.item)].append(judged)
    jobs: dict[int, dict[str, Any]] = {}
    for (job, _), rows in per_item.items():
        entry = jobs.setdefault(job, {"items": 0, "mv_correct": 0, "items_3plus": 0, "mv3_correct": 0})
        correct = majority([r.label for r in rows], stats.label_keys[job]) == rows[0].truth
        entry["items"] += 1
        entry["mv_correct"] += correct
        if len(rows) >= 3:
            entry["items_3plus"] += 1
            entry["mv3_correct"] += correct
    for entry in jobs.values():
        entry["majority_vote_accuracy"] = round(entry.pop("mv_correct") / entry["items"], 4)
        n3 = entry["items_3plus"]
        entry["majority_vote_accuracy_3plus"] = round(entry.pop("mv3_correct") / n3, 4) if n3 else None
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for judged in stats.judged:
        tally = kinds[stats.profiles[judged.worker].kind]
        tally[0] += judged.label == judged.truth
        tally[1] += 1
    return {
        "jobs": {str(job): entry for job, entry in sorted(jobs.items())},
        "by_kind": {kind: round(c / n, 4) for kind, (c, n) in sorted(kinds.items()) if n},
    }


def _cost(stats: Stats) -> dict[str, Any]:
    """Worker pay for the accepted judgments: per (job, worker) count × the job's pay, rounded
    once per worker and job as the ledger does (the remainder rule sums to exactly that)."""
    counts: Counter[tuple[int, int]] = Counter((j.job, j.worker) for j in stats.judged)
    total = Decimal("0")
    unknown = 0
    for (job, _), count in counts.items():
        pay = stats.rewards.get(job)
        if pay is None:
            unknown += count
            continue
        total += money(count * pay)
    return {"worker_pay": str(money(total)), "judgments_without_known_pay": unknown}


def report_build(stats: Stats, *, server: dict[str, Any] | None = None, warmup: float = 0.0) -> dict[str, Any]:
    """The run's figures; with `warmup` (seconds), also the latencies of the requests asked after it."""
    seconds = stats.seconds
    kinds = Counter(p.kind for p in stats.profiles)
    retired = Counter(stats.retired.values())
    return {
        "workers": len(stats.profiles),
        "mix": dict(sorted(kinds.items())),
        "seconds": round(seconds, 2),
        "interrupted": stats.interrupted,
        "accepted_judgments": stats.accepted,
        "judgments_per_second": round(stats.accepted / seconds, 1) if seconds else 0.0,
        "latency_ms": _latency_table(stats),
        **({"warmup_s": warmup, "latency_ms_after_warmup": _latency_table(stats, after=warmup)}
           if warmup > 0 else {}),
        "errors": dict(stats.errors.most_common()),
        "errors_total": sum(stats.errors.values()),
        "no_work_polls": stats.no_work,
        "busy_polls": stats.busy,
        "retried_submits": stats.retried,
        "retired_workers": dict(retired),
        "retired_by_kind": dict(Counter(stats.profiles[i].kind for i in stats.retired)),
        "simulator_accuracy": _local_accuracy(stats),
        "cost": _cost(stats),
        "server": server or {},
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def report_text(report: dict[str, Any]) -> str:
    lines = [
        f"Simulated crowd: {report['workers']} workers "
        f"({', '.join(f'{k} {v}' for k, v in report['mix'].items())})"
        + (" — stopped by Ctrl-C" if report["interrupted"] else ""),
        f"  {report['accepted_judgments']:,} accepted judgments in {report['seconds']:.1f} s: "
        f"{report['judgments_per_second']:,.1f} judgments/s",
        f"  {'latency ms':<12}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'requests':>10}",
    ]
    for name, row in report["latency_ms"].items():
        lines.append(f"  {name:<12}{row['p50']:>8.1f}{row['p95']:>8.1f}{row['p99']:>8.1f}"
                     f"{row['max_ms']:>8.1f}{row['count']:>10,}")
    for name, row in report.get("latency_ms_after_warmup", {}).items():
        label = f"{name} >{report['warmup_s']:g}s"
        lines.append(f"  {label:<12}{row['p50']:>8.1f}{row['p95']:>8.1f}{row['p99']:>8.1f}"
                     f"{row['max_ms']:>8.1f}{row['count']:>10,}")
    errors = report["errors"]
    lines.append("  errors: " + (", ".join(f"{k} ×{v}" for k, v in errors.items()) if errors else "none"))
    lines.append(f"  no-work polls: {report['no_work_polls']:,}; busy polls: {report['busy_polls']:,}; "
                 f"retried submits: {report['retried_submits']}")
    if report["retired_workers"]:
        why = ", ".join(f"{k} ×{v}" for k, v in report["retired_workers"].items())
        kinds = ", ".join(f"{k} {v}" for k, v in report["retired_by_kind"].items())
        lines.append(f"  workers stopped by the server: {why} (kinds: {kinds})")
    local = report["simulator_accuracy"]
    lines.append("  accuracy against the simulated truth:")
    lines.append("    answers by kind: " + ", ".join(f"{k} {_pct(v)}" for k, v in local["by_kind"].items()))
    server_jobs = report["server"].get("jobs", {})
    for job, entry in local["jobs"].items():
        lines.append(
            f"    job {job}: majority vote of this run's judgments {_pct(entry['majority_vote_accuracy'])} "
            f"over {entry['items']:,} items ({_pct(entry['majority_vote_accuracy_3plus'])} "
            f"over the {entry['items_3plus']:,} with 3+ judgments)"
        )
        consensus = server_jobs.get(job, {}).get("consensus")
        if consensus:
            if "accuracy" in consensus:
                lines.append(
                    f"    job {job}: server consensus (run {consensus['run']}, {consensus['method']}) "
                    f"{_pct(consensus['accuracy'])} over {consensus['items']:,} labelled items; "
                    f"majority vote of all its judgments {_pct(consensus.get('majority_vote_accuracy'))}"
                )
            else:
                lines.append(f"    job {job}: server consensus unavailable ({consensus.get('error')})")
    cost = report["cost"]
    line = f"  cost: worker pay for the accepted judgments {cost['worker_pay']}"
    earned = report["server"].get("earnings_delta")
    if earned is not None:
        line += f"; the workers' earnings grew by {earned} (blocked workers' pay is withdrawn)"
    lines.append(line)
    note = report["server"].get("note")
    if note:
        lines.append(f"  note: {note}")
    return "\n".join(lines)

