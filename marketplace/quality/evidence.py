"""A quality event's evidence as every reader gets it (the admin API, the staff worker page).

Gold figures in evidence ("gold", and "exact_sets" on a multi-label job) keep their accuracies
as decimal strings with 4 places (scoring.GoldEstimate.as_evidence), so an auditor reads the
figure the rule compared, not a float's nearest neighbour. Events written before that kept floats
rounded to 4 places; they read as the same strings, so old and new rows look alike.
"""

from __future__ import annotations

from typing import Any

from marketplace.quality.scoring import accuracy_text

GOLD_FIGURES = ("gold", "exact_sets")  # the evidence keys holding a GoldEstimate


def evidence_read(evidence: dict[str, Any]) -> dict[str, Any]:
    """`evidence` with every gold figure's accuracies as decimal strings, old rows' floats too."""
    out = dict(evidence)
    for key in GOLD_FIGURES:
        figures = out.get(key)
        if isinstance(figures, dict):
            out[key] = _gold_figures_read(figures)
    return out


def _gold_figures_read(figures: dict[str, Any]) -> dict[str, Any]:
    out = dict(figures)
    if _number(out.get("smoothed")):
        out["smoothed"] = accuracy_text(out["smoothed"])
    interval = out.get("interval_90")
    if isinstance(interval, list):
        out["interval_90"] = [accuracy_text(bound) if _number(bound) else bound for bound in interval]
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
