"""The simulated crowd, pure: the truth of an item, worker profiles and how each one answers.

No Django and no I/O here, so the model is unit-tested on its own and shared by the
simulator (which answers), `seed_demo` (which writes gold answers) and the benchmarks.

The simulated truth. A simulated worker sees what a real one sees: the item's data (never its
id, its external_id or whether it is gold). The true label of an item is therefore a
deterministic function of its data and the job's label keys, `item_truth`: a salted SHA-256
of the data's canonical JSON, reduced over the label keys in the job's order. Where the simulator
needs to know one item again (a colluding pair's shared draw, the majority vote over the crowd's
answers), it names it by `item_key`, a hash of the same canonical JSON. `seed_demo`
gives every gold item exactly this label (and picks review wordings whose truth matches their
tone), so gold scoring on the server and accuracy in the simulator's report agree.

Profiles (`KINDS`):
- good: a confusion matrix with a diagonal near 0.9, errors spread at random;
- noisy: a diagonal near 0.65;
- spammer: every row uniform (answers at random);
- constant: always the same label (the worker's favourite key, by position);
- colluding: workers in pairs; both of a pair answer from one shared matrix (uniform) with a
  random stream seeded by the pair and the item, so for the same item they give the same label.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TRUTH_SALT = "quorum-sim-truth/1"  # changing it changes every simulated truth: keep it fixed
KINDS = ("good", "noisy", "spammer", "constant", "colluding")
DEFAULT_MIX = "good=0.6,noisy=0.2,spammer=0.1,constant=0.05,colluding=0.05"
# Centre and half-width of the diagonal drawn for each kind that has one.
_DIAGONAL = {"good": (0.9, 0.05), "noisy": (0.65, 0.07)}

Matrix = list[list[float]]  # rows: true label, columns: answered label (job's key order)


def canonical_json(data: Any) -> str:
    """The item data as one string whatever the key order the server sends it in."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash_int(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def item_key(data: Any) -> str:
    """A name for the item its data gives: the same for every worker shown it. (Two items of
    identical data share it; they share their truth too, so the report's majority counts them once.)"""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


def item_truth(data: Any, label_keys: Sequence[str]) -> str:
    """The simulated true label of an item (see the module docstring)."""
    if not label_keys:
        raise ValueError("a job has at least one label")
    return label_keys[_hash_int(TRUTH_SALT, canonical_json(data)) % len(label_keys)]


def mix_parse(text: str) -> dict[str, float]:
    """'good=0.6,noisy=0.4' -> shares that sum to 1 (given shares are normalized)."""
    shares: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise ValueError(f"mix entries look like good=0.6; kinds: {', '.join(KINDS)} (got {part!r})")
        try:
            share = float(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a number") from None
        if share < 0 or not math.isfinite(share):
            raise ValueError(f"{name}: a share is a non-negative number")
        shares[name] = shares.get(name, 0.0) + share
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("the mix needs at least one positive share")
    return {name: share / total for name, share in shares.items() if share > 0}


def mix_counts(mix: Mapping[str, float], n: int) -> dict[str, int]:
    """How many of n workers each kind gets: largest remainder; colluders come in pairs (an odd
    colluder left over becomes good)."""
    exact = {kind: mix.get(kind, 0.0) * n for kind in KINDS}
    counts = {kind: int(value) for kind, value in exact.items()}
    by_remainder = sorted(KINDS, key=lambda k: (exact[k] - counts[k], -KINDS.index(k)), reverse=True)
    for kind in by_remainder[: n - sum(counts.values())]:
        counts[kind] += 1
    if counts["colluding"] % 2:
        counts["colluding"] -= 1
        counts["good"] += 1
    return counts


@dataclass
class Profile:
    """One simulated worker's behaviour; `matrix_for` builds its confusion matrix per label count."""

    index: int
    kind: str
    seed: int
    diagonal: float = 0.0  # drawn once: the worker's accuracy for "good" and "noisy"
    favourite: int = 0  # position of the constant answerer's label
    pair: int | None = None  # colluding pair number
    _matrices: dict[int, Matrix] = field(default_factory=dict, repr=False)

    def matrix_for(self, k: int) -> Matrix:
        if k not in self._matrices:
            self._matrices[k] = _matrix(self, k)
        return self._matrices[k]

    def answer(self, *, item: int | str, data: Any, label_keys: Sequence[str], rng: random.Random) -> str:
        """The label this worker gives the item: a draw from its matrix's row of the true label.
        `item` names the item for a colluding pair's shared draw: item_key(data) in the simulator
        (workers are not told item ids), the item's id in the server-side seeding."""
        k = len(label_keys)
        truth = label_keys.index(item_truth(data, label_keys))
        if self.kind == "colluding":
            # The pair shares the stream: same item, same draw, same label.
            rng = random.Random(_hash_int("pair", self.seed, self.pair, item))
        row = self.matrix_for(k)[truth]
        return label_keys[_draw(row, rng.random())]


def _draw(row: Sequence[float], u: float) -> int:
    total = 0.0
    for position, p in enumerate(row):
        total += p
        if u < total:
            return position
    return len(row) - 1


def _matrix(profile: Profile, k: int) -> Matrix:
    if k == 1:
        return [[1.0]]
    if profile.kind in ("spammer", "colluding"):
        return [[1.0 / k] * k for _ in range(k)]
    if profile.kind == "constant":
        column = profile.favourite % k
        return [[1.0 if c == column else 0.0 for c in range(k)] for _ in range(k)]
    rng = random.Random(_hash_int("matrix", profile.seed, k))
    rows = []
    for r in range(k):
        # The error mass goes to the other labels with random weights (a Dirichlet(1) draw).
        weights = [rng.expovariate(1.0) if c != r else 0.0 for c in range(k)]
        spread = (1.0 - profile.diagonal) / sum(weights)
        rows.append([profile.diagonal if c == r else w * spread for c, w in enumerate(weights)])
    return rows


def crowd_build(*, n: int, mix: Mapping[str, float], seed: int) -> list[Profile]:
    """n profiles in a seeded, shuffled order (so worker 1 is not always good)."""
    rng = random.Random(_hash_int("crowd", seed))
    kinds: list[str] = []
    for kind, count in mix_counts(mix, n).items():
        kinds += [kind] * count
    # Keep colluders' positions adjacent after the shuffle: shuffle units, a pair is one unit.
    singles = [[kind] for kind in kinds if kind != "colluding"]
    pairs = [["colluding", "colluding"] for _ in range(kinds.count("colluding") // 2)]
    units = singles + pairs
    rng.shuffle(units)
    profiles: list[Profile] = []
    pair_number = 0
    for unit in units:
        if len(unit) == 2:
            pair_number += 1
        for kind in unit:
            index = len(profiles)
            centre, width = _DIAGONAL.get(kind, (0.0, 0.0))
            profiles.append(Profile(
                index=index, kind=kind, seed=_hash_int("worker", seed, index),
                diagonal=centre + rng.uniform(-width, width) if width else centre,
                favourite=rng.randrange(1 << 16),
                pair=pair_number if kind == "colluding" else None,
            ))
    for profile in profiles:  # colluders of one pair share the seed of the first of them
        if profile.pair is not None:
            profile.seed = _hash_int("pair-seed", seed, profile.pair)
    return profiles


def think_seconds(*, mean_ms: float, rng: random.Random, sigma: float = 0.5) -> float:
    """A lognormal think time whose mean is mean_ms (0 means none)."""
    if mean_ms <= 0:
        return 0.0
    mu = math.log(mean_ms / 1000.0) - sigma * sigma / 2
    return rng.lognormvariate(mu, sigma)


def majority(labels: Sequence[str], label_keys: Sequence[str]) -> str:
    """Plurality label; ties go to the key listed first (Quorum's rule)."""
    counts = {key: 0 for key in label_keys}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return max(counts, key=lambda key: (counts[key], -label_keys.index(key) if key in label_keys else -999))
