"""`manage.py replay DIR --dynamic MIN..MAX --target T[,T...]`: dynamic overlap replayed on a real
crowd, for one target or a sweep of them.

The simulation is pure (consensus/dynamic_replay.py) and asks the same rule and worker model as
the submit flow (consensus/dynamic.py); this module reads the folder and words the report.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from marketplace.consensus import load_dataset
from marketplace.consensus.dynamic_replay import (
    Comparison,
    Crowdset,
    DynamicSettings,
    replay_sweep,
)


def overlap_bounds(raw: str) -> tuple[int, int]:
    """ "2..10" -> (2, 10); ValueError for anything else."""
    low, sep, high = raw.partition("..")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError("expected MIN..MAX, e.g. 2..10")
    bounds = int(low), int(high)
    if not 1 <= bounds[0] <= bounds[1]:
        raise ValueError("need 1 <= MIN <= MAX")
    return bounds


def targets_of(raw: str) -> tuple[float, ...]:
    """ "0.9" -> (0.9,); "0.8,0.9" -> (0.8, 0.9); ValueError for anything else."""
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ValueError(f"the target must be a number or numbers joined by commas: {raw!r}")
    if any(not 0.0 < value <= 1.0 for value in values):
        raise ValueError("the target must be above 0 and at most 1")
    return values


def replay_dynamic(
    *,
    folder: Path,
    bounds: tuple[int, int],
    targets: tuple[float, ...],
    seed: int,
    repeat: int,
    history: bool,
    model_accuracy: float | None = None,
    serve_margin: float | None = None,
    oracle: str = "",
    fill: bool = False,
) -> tuple[list[Comparison], dict[str, Any]]:
    """Replay `repeat` times (seeds seed, seed+1, ...) at each target, every target in the same
    arrival orders; one comparison per target, and what was replayed. With `model_accuracy`,
    the comparisons are with a simulated model, and `about["without_model"]` holds the same
    replays without it. With `serve_margin`, the job serves only workers that far from chance
    (`consensus.dynamic.worker_served`), and each comparison also holds one with fixed overlap
    serving the same workers (`served`). `oracle` ("stop", "serve", "both"): the workers' true
    confusions stand in for that part of the rule (`consensus.dynamic_oracle`). `fill`: items
    the data set runs out of take judgments from the average served worker, fixed overlap's too."""
    if model_accuracy is not None and not 0.0 <= model_accuracy <= 1.0:
        raise ValueError("the model's accuracy must be between 0 and 1")
    data = load_dataset(folder)
    crowd = Crowdset.from_votes(data.votes, data.truth)
    _replayable_check(crowd, truth_rows=len(data.truth))
    sweep = [
        DynamicSettings(
            min_overlap=bounds[0],
            max_overlap=bounds[1],
            target=target,
            serve_margin=serve_margin,
            oracle=oracle,
            fill=fill,
        )
        for target in targets
    ]
    seeds = list(range(seed, seed + repeat))
    comparisons = replay_sweep(crowd, sweep, seeds=seeds, history=history)
    without: list[Comparison] = []
    if model_accuracy is not None:
        without = comparisons
        comparisons = replay_sweep(
            crowd, sweep, seeds=seeds, history=history, model_accuracy=model_accuracy
        )
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
        "targets": list(targets),
        "seeds": seeds,
        "history": source,
        "serve_margin": serve_margin,
        "oracle": oracle or None,
        "fill": fill,
    }
    if model_accuracy is not None:
        about["model_accuracy"] = model_accuracy
        about["without_model"] = [_clean(asdict(c)) for c in without]
    return comparisons, about


def _replayable_check(crowd: Crowdset, *, truth_rows: int) -> None:
    """ValueError saying why nothing can be replayed: the replay streams (and scores) the judged
    items whose truth is one of the judgments' labels, so it needs at least one (load_dataset
    already refused a file without judgments)."""
    if not (crowd.truth >= 0).any():
        raise ValueError(
            f"no judged item has a truth among the judgments' labels ({truth_rows} items in "
            f"truth.csv; labels judged: {', '.join(map(str, crowd.labels[:10]))}"
            f"{', ...' if len(crowd.labels) > 10 else ''}): check that both files name items "
            "and labels alike"
        )


def report_text(comparisons: list[Comparison], about: dict[str, Any]) -> str:
    """One target: the comparison in full. Several: one line per target, then the fixed curve."""
    first = comparisons[0]
    targets = about["targets"]
    shown = ", ".join(f"{t:g}" for t in targets)
    lines = [
        f"{about['data_set']}: dynamic overlap {about['min_overlap']}..{about['max_overlap']}, "
        f"target{'s' if len(targets) > 1 else ''} {shown}, {first.replays} "
        f"replay{'s' if first.replays != 1 else ''} (seeds {about['seeds'][0]}-{about['seeds'][-1]})",
        f"  {first.items:,} items per replay; workers' history: {about['history']}; "
        f"{_serving(about)}{_oracle(about)}"
        f"{_refits(comparisons)} (after 100 judgments, then at each doubling)",
    ]
    if len(comparisons) == 1:
        lines += _one_target(first)
    else:
        lines.append(
            "  target  judgments/item  accuracy  at max  | fixed: accuracy at the same "
            "judgments, overlap K and judgments/item at equal accuracy | saving"
        )
        lines += [_target_line(t, c) for t, c in zip(targets, comparisons, strict=True)]
    if "model_accuracy" in about:
        lines += _model_lines(comparisons, about)
    curve = ", ".join(f"{k}: {j:.2f}/{a:.4f}" for k, (j, a) in enumerate(first.fixed, start=1))
    lines.append(f"  fixed overlap K: judgments/item/accuracy  {curve}")
    return "\n".join(lines)


def _model_lines(comparisons: list[Comparison], about: dict[str, Any]) -> list[str]:
    """With a simulated model: each target beside the same replays without it."""
    lines = [
        f"  with a simulated model right {about['model_accuracy']:.0%} of the time, beside the "
        "same replays without it:",
        "  target  judgments/item (without)  accuracy (without)  model measured at  "
        "judgments saved",
    ]
    for target, c, base in zip(about["targets"], comparisons, about["without_model"], strict=True):
        saved = 1.0 - c.judgments_per_item / base["judgments_per_item"]
        measured = "-" if c.model_accuracy is None else f"{c.model_accuracy:.3f}"
        lines.append(
            f"  {target:<6g}  {c.judgments_per_item:5.2f}{_pm(c.judgments_se)} "
            f"({base['judgments_per_item']:.2f})  {c.accuracy:.4f}{_pm(c.accuracy_se, 4)} "
            f"({base['accuracy']:.4f}{_pm(base['accuracy_se'], 4)})  {measured}  {saved:.1%}"
        )
    return lines


def _serving(about: dict[str, Any]) -> str:
    margin = about.get("serve_margin")
    if margin is None:
        return ""
    return f"serving workers at least {margin:g} of the way from chance to perfect; "


def _oracle(about: dict[str, Any]) -> str:
    parts = {"stop": "stopping", "serve": "serving", "both": "stopping and serving"}
    shown = f"the oracle (true confusions) does the {parts[about['oracle']]}; " if about.get(
        "oracle") else ""
    if about.get("fill"):
        shown += "items the data ran out of filled from the average served worker; "
    return shown


def _pm(se: float | None, places: int = 2) -> str:
    return "" if se is None else f" ± {se:.{places}f}"


def _refits(comparisons: list[Comparison]) -> str:
    shown = "/".join(f"{c.refits:.1f}" for c in comparisons)
    return f"{shown} refits per replay"


def _one_target(c: Comparison) -> list[str]:
    lines = [
        f"  dynamic  {c.judgments_per_item:5.2f} judgments/item  accuracy {c.accuracy:.4f}  "
        f"at the maximum {c.at_maximum:.1%}  out of judgments unsettled {c.ran_out:.1%} "
        f"(never judged {c.unjudged:.1%}; filled {c.filled:.2f} judgments/item)",
        f"  fixed    {c.judgments_per_item:5.2f} judgments/item  accuracy "
        f"{c.fixed_accuracy_same_judgments:.4f}  (same judgments)",
    ]
    if c.fixed_judgments_equal_accuracy is None or c.saving is None:
        return [*lines, "  fixed overlap never reaches the dynamic accuracy on this data set"]
    return [
        *lines,
        f"  fixed    {c.fixed_judgments_equal_accuracy:5.2f} judgments/item  accuracy "
        f"{c.accuracy:.4f}  (equal accuracy: fixed overlap {c.matched_overlap:.2f})",
        f"  saving   {c.saving:.1%}{_se(c)} of judgments at equal accuracy",
        *_served_lines(c),
    ]


def _served_lines(c: Comparison) -> list[str]:
    """Beside fixed overlap serving the same workers, when the job chose whom to serve."""
    s = c.served
    if s is None:
        return []
    if s.saving is None or s.fixed_judgments_equal_accuracy is None:
        return ["  fixed overlap serving the same workers never reaches the dynamic accuracy"]
    return [
        f"  served   {s.fixed_judgments_equal_accuracy:5.2f} judgments/item at equal accuracy "
        f"with fixed overlap serving the same workers (accuracy {s.fixed_accuracy_same_judgments:.4f} "
        f"at the same judgments): saving {s.saving:.1%}{_se(s)}",
    ]


def _target_line(target: float, c: Comparison) -> str:
    head = (
        f"  {target:<6g}  {c.judgments_per_item:14.2f}  {c.accuracy:8.4f}  {c.at_maximum:6.1%}  "
        f"| {c.fixed_accuracy_same_judgments:.4f}"
    )
    if c.saving is None or c.fixed_judgments_equal_accuracy is None:
        return f"{head}, never reached"
    line = (
        f"{head}, K {c.matched_overlap:.2f}, {c.fixed_judgments_equal_accuracy:.2f} "
        f"| {c.saving:6.1%}{_se(c)}"
    )
    s = c.served
    if s is not None:
        shown = "never" if s.saving is None else f"{s.saving:.1%}{_se(s)}"
        line += f" | same workers: {s.fixed_accuracy_same_judgments:.4f}, {shown}"
    return line


def _se(c: Comparison) -> str:
    return "" if c.saving_se is None else f" ± {c.saving_se:.1%}"


def report_dict(comparisons: list[Comparison], about: dict[str, Any]) -> dict[str, Any]:
    """One target: the comparison's fields beside `about` (`target` as before); several: the
    comparisons under `comparisons`, in the order of `targets`."""
    if len(comparisons) == 1:
        data = {**about, "target": about["targets"][0], **asdict(comparisons[0])}
    else:
        data = {**about, "comparisons": [_clean(asdict(c)) for c in comparisons]}
    return _clean(data)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in data.items()}
