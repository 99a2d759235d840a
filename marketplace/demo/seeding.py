"""Demo content whose simulated truth agrees with its wording.

Every demo item's true label is `crowd.item_truth(data, keys)`, the same function the crowd
simulator answers from. To keep the demo readable for people too, an item meant to read as
label L is built from L's wordings and then varied (the `helpful_votes` count) until its
truth is L: about three tries per item, deterministic for a given seed. Gold items carry
exactly that label, so gold scoring on the server matches the simulator's truth.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.demo.simulator.crowd import item_truth
from marketplace.jobs.services import ItemRow

SENTIMENT = [
    {"key": "positive", "name": "Positive", "shortcut": "p"},
    {"key": "neutral", "name": "Neutral", "shortcut": "n"},
    {"key": "negative", "name": "Negative", "shortcut": "x"},
]
TOPICS = [
    {"key": "world", "name": "World", "shortcut": "w"},
    {"key": "sports", "name": "Sports", "shortcut": "s"},
    {"key": "business", "name": "Business", "shortcut": "b"},
    {"key": "science", "name": "Science", "shortcut": "c"},
]
TOXICITY = [
    {"key": "ok", "name": "Fine", "shortcut": "f"},
    {"key": "rude", "name": "Rude", "shortcut": "r"},
    {"key": "toxic", "name": "Toxic", "shortcut": "t"},
]
SPAM = [{"key": "ham", "name": "Not spam", "shortcut": "h"}, {"key": "spam", "name": "Spam", "shortcut": "s"}]

_REVIEW = {
    "positive": ["Loved it", "Works great", "Five stars", "Exceeded my expectations"],
    "neutral": ["It is okay", "Arrived on Tuesday", "Does what it says", "Average product"],
    "negative": ["Broke after a week", "Would not buy again", "Terrible support", "Waste of money"],
}
_PRODUCTS = ["kettle", "headphones", "desk lamp", "backpack", "phone case", "coffee grinder"]
_HEADLINE = {
    "world": ["Leaders meet to discuss a border treaty", "Elections called after the coalition splits",
              "Aid reaches towns cut off by floods"],
    "sports": ["Late goal sends the home side through", "Veteran sprinter wins a sixth title",
               "Coach resigns after the cup exit"],
    "business": ["Shares slide as the chip maker cuts its forecast", "Retailer opens forty new stores",
                 "Central bank holds rates steady"],
    "science": ["Telescope spots water vapour on a distant planet", "New battery chemistry doubles range",
                "Researchers map the octopus genome"],
}
_CITIES = ["Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Perth"]
_COMMENT = {
    "ok": ["Thanks, this helped a lot", "I see it differently, but fair point", "Great write-up"],
    "rude": ["Did you even read the article?", "What a lazy take", "Nobody asked for this"],
    "toxic": ["People like you should be banned", "You are an idiot", "Get lost, loser"],
}
_MESSAGE = {
    "ham": ["Lunch at noon tomorrow?", "The report is attached", "Can you review my pull request?"],
    "spam": ["You WON a free cruise, click now", "Cheap pills, no prescription", "Claim your prize today"],
}


def _matching(keys: Sequence[str], label: str, build: Any) -> dict[str, Any]:
    """build(votes) -> data; the first variant whose simulated truth is `label`."""
    for votes in range(10_000):
        data = build(votes)
        if item_truth(data, keys) == label:
            return data
    raise RuntimeError("no variant matched")  # (2/3)^10000: never


def review(rng: random.Random, label: str, n: int) -> dict[str, Any]:
    opener, product = rng.choice(_REVIEW[label]), rng.choice(_PRODUCTS)
    return _matching([c["key"] for c in SENTIMENT], label, lambda votes: {
        "text": f"{opener}: the {product} (review #{n}).", "product": product, "helpful_votes": votes})


def headline(rng: random.Random, label: str, n: int) -> dict[str, Any]:
    text, city = rng.choice(_HEADLINE[label]), rng.choice(_CITIES)
    return _matching([c["key"] for c in TOPICS], label, lambda votes: {
        "text": f"{text} ({city}, story {n})", "shares": votes})


def comment(rng: random.Random, label: str, n: int) -> dict[str, Any]:
    text = rng.choice(_COMMENT[label])
    return _matching([c["key"] for c in TOXICITY], label, lambda votes: {
        "text": f"{text} (comment {n})", "likes": votes})


def message(rng: random.Random, label: str, n: int) -> dict[str, Any]:
    text = rng.choice(_MESSAGE[label])
    return _matching([c["key"] for c in SPAM], label, lambda votes: {
        "text": f"{text} (message {n})", "forwards": votes})


@dataclass(frozen=True)
class JobSpec:
    """One demo job: its fields for job_create, its content and where it should end up."""

    fields: dict[str, Any]
    make: Any  # (rng, label, n) -> data
    items: int
    gold: int
    state: str  # open, paused, completed, draft

    @property
    def keys(self) -> list[str]:
        return [c["key"] if isinstance(c, dict) else c for c in self.fields["labels"]]

    def rows(self, seed: int) -> tuple[list[ItemRow], list[ItemRow]]:
        """(regular rows, gold rows); every label of a gold row is its simulated truth.

        Workers read the number in an item's text ("review #57"), so regular and gold items take
        theirs from one shuffled range: numbered apart (gold from 100000), the text alone told
        workers which items were gold."""
        rng = random.Random(seed)
        numbers = list(range(1, self.items + self.gold + 1))
        random.Random(f"numbers:{seed}").shuffle(numbers)
        regular = [
            ItemRow(data=self.make(rng, rng.choice(self.keys), numbers[n]), external_id=f"i{n}")
            for n in range(self.items)
        ]
        gold = []
        for n in range(self.gold):
            label = self.keys[n % len(self.keys)]
            gold.append(ItemRow(data=self.make(rng, label, numbers[self.items + n]), external_id=f"g{n}",
                                gold_label=label, explanation=f"This one is clearly {label}."))
        return regular, gold
