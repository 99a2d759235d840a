"""`manage.py replay DIR --dynamic MIN..MAX --target T`: dynamic overlap replayed on a real crowd.

The simulation is pure (consensus/dynamic_replay.py) and asks the same rule and worker model as
the submit flow (consensus/dynamic.py); this module reads the folder and words the report.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from marketplace.consensus import load_dataset
from marketplace.consensus.dynamic_replay import Comparison, Crowdset, DynamicSettings, replay_many


def overlap_bounds(raw: str) -> tuple[int, int]:
    """ "2..10" -> (2, 10); ValueError for anything else."""
    low, sep, high = raw.partition("..")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError("expected MIN..MAX, e.g. 2..10")
    bounds = int(low), int(high)
    if not 1 <= bounds[0] <= bounds[1]:
        raise ValueError("need 1 <= MIN <= MAX")
    return bounds


def replay_dynamic(
    *, folder: Path, bounds: tuple[int, int], target: float, seed: int, repeat: int, history: bool
) -> tuple[Comparison, dict[str, Any]]:
    """Replay `repeat` times (seeds seed, seed+1, ...); the comparison and what was replayed."""
    data = load_dataset(folder)
    crowd = Crowdset.from_votes(data.votes, data.truth)
    settings = DynamicSettings(min_overlap=bounds[0], max_overlap=bounds[1], target=target)
    seeds = list(range(seed, seed + repeat))
    comparison = replay_many(crowd, settings, seeds=seeds, history=history)
    unscored = int((crowd.truth < 0).sum())
    if not history:
        source = "none (every worker starts unknown)"
    elif unscored:
        source = f"the {unscored:,} items without truth, fitted first"
    else:
        source = "two seeded halves, each replayed with the other fitted first"
    about = {
        "data_set": data.name,
        "labels": len(crowd.labels),
        "min_overlap": bounds[0],
        "max_overlap": bounds[1],
        "target": target,
        "seeds": seeds,
        "history": source,
    }
    return comparison, about


def report_text(comparison: Comparison, about: dict[str, Any]) -> str:
    c = comparison
    lines = [
        f"{about['data_set']}: dynamic overlap {about['min_overlap']}..{about['max_overlap']}, "
        f"target {about['target']:g}, {c.replays} replay{'s' if c.replays != 1 else ''} "
        f"(seeds {about['seeds'][0]}-{about['seeds'][-1]})",
        f"  {c.items:,} items per replay; workers' history: {about['history']}; "
        f"{c.refits:.1f} refits per replay (after 100 judgments, then at each doubling)",
        f"  dynamic  {c.judgments_per_item:5.2f} judgments/item  accuracy {c.accuracy:.4f}  "
        f"at the maximum {c.at_maximum:.1%}  out of judgments unsettled {c.ran_out:.1%}",
        f"  fixed    {c.judgments_per_item:5.2f} judgments/item  accuracy "
        f"{c.fixed_accuracy_same_judgments:.4f}  (same judgments)",
    ]
    if c.fixed_judgments_equal_accuracy is None or c.saving is None:
        lines.append("  fixed overlap never reaches the dynamic accuracy on this data set")
    else:
        lines.append(
            f"  fixed    {c.fixed_judgments_equal_accuracy:5.2f} judgments/item  accuracy "
            f"{c.accuracy:.4f}  (equal accuracy)"
        )
        lines.append(f"  saving   {c.saving:.1%} of judgments at equal accuracy")
    curve = ", ".join(f"{k}: {j:.2f}/{a:.4f}" for k, (j, a) in enumerate(c.fixed, start=1))
    lines.append(f"  fixed overlap K: judgments/item/accuracy  {curve}")
    return "\n".join(lines)


def report_dict(comparison: Comparison, about: dict[str, Any]) -> dict[str, Any]:
    data = {**about, **asdict(comparison)}
    return {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in data.items()}
