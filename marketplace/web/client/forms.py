"""Forms of the client portal's job pages. They parse what a person typed; the services decide
what is valid (labels_validate, job_create/job_update, the importer), and their errors are shown
on the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.http import QueryDict

from marketplace.errors import ApplicationError
from marketplace.jobs.markdown import instructions_check
from marketplace.labelsets import MAX_LABELS, MIN_LABELS, RESERVED_SHORTCUTS, label_set_problems
from marketplace.limits import MAX_TITLE_CHARS
from marketplace.names import name_clean

LABEL_ROWS_MIN = 4  # empty rows a new job's form starts with (wizard.js adds more)
IMPORT_FORMATS = (("auto", "From the file name"), ("csv", "CSV"), ("json", "JSON array"), ("jsonl", "JSONL"))
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_SHORTCUTS = "".join(c for c in "123456789abcdefghijklmnopqrstuvwxyz" if c not in RESERVED_SHORTCUTS)


class JobDetailsForm(forms.Form):
    title = forms.CharField(
        label="Title", max_length=200,
        help_text="What workers see in their list of work, e.g. “Is there a cat in the photo?”",
    )
    instructions = forms.CharField(
        label="Instructions", required=False, widget=forms.Textarea(attrs={"rows": 10}),
        help_text=("Markdown: headings, lists, **bold**, links, tables. Raw HTML is removed; an image ![alt](url) shows as a link “Picture: alt” that workers open by clicking."),
    )
    multi_label = forms.BooleanField(
        label="Workers may tick several labels per item (multi-label)", required=False,
        help_text="Each item takes any subset of the labels; consensus runs per label.",
    )

    # The service's own checks (jobs.fields), run here too so that every problem of the page is
    # reported in one round, beside the labels' (label_problems).
    def clean_title(self) -> str:
        return _checked(name_clean, self.cleaned_data["title"], field="Title", max_chars=MAX_TITLE_CHARS)

    def clean_instructions(self) -> str:
        return _checked(instructions_check, self.cleaned_data["instructions"])


def _checked(check: Callable[..., str], value: str, **kwargs: Any) -> str:
    try:
        return check(value, **kwargs)
    except ApplicationError as exc:  # the API's words start lower-case ("instructions are over …")
        raise forms.ValidationError(exc.message[:1].upper() + exc.message[1:]) from None


@dataclass
class LabelRow:
    index: int
    key: str = ""
    name: str = ""
    shortcut: str = ""

    @property
    def blank(self) -> bool:
        return not (self.key or self.name or self.shortcut)


def label_rows_from_job(labels: list[dict[str, str]], *, keys_fixed: bool = False) -> list[LabelRow]:
    """A draft's labels as rows to edit. A key or shortcut that is what the name derives is shown
    derived (an empty box, the suggestion its placeholder), as on a new job, so a renamed label
    gets a new one; any other stays as typed. Each box is emptied only if saving the rows as
    they are would give back the same labels (a shortcut chosen before another was typed stays).
    `keys_fixed` (the draft has gold items, whose answers are keys) keeps every key."""
    expected = [{"key": c["key"], "name": c.get("name", ""), "shortcut": c.get("shortcut", "")} for c in labels]
    rows = [LabelRow(i, c["key"], c.get("name", ""), c.get("shortcut", "")) for i, c in enumerate(labels)]
    if labels_payload(rows) != expected:  # saved otherwise than this page saves (the API): as saved
        return _padded(rows)
    parts = ("shortcut",) if keys_fixed else ("key", "shortcut")
    for row in rows:
        for part in parts:
            kept = getattr(row, part)
            setattr(row, part, "")
            if labels_payload(rows) != expected:
                setattr(row, part, kept)
    return _padded(rows)


def label_rows_empty() -> list[LabelRow]:
    return _padded([])


def _padded(rows: list[LabelRow]) -> list[LabelRow]:
    want = max(LABEL_ROWS_MIN, len(rows) + 1)
    return rows + [LabelRow(i) for i in range(len(rows), min(want, MAX_LABELS))]


def label_rows_from_post(data: QueryDict) -> list[LabelRow]:
    """The rows as typed (`label-<n>-name|key|shortcut`), blanks kept so the form re-renders."""
    rows = []
    for i in range(MAX_LABELS):
        row = LabelRow(
            i,
            key=data.get(f"label-{i}-key", "").strip(),
            name=data.get(f"label-{i}-name", "").strip(),
            shortcut=data.get(f"label-{i}-shortcut", "").strip(),
        )
        if any(f"label-{i}-{part}" in data for part in ("key", "name", "shortcut")):
            rows.append(row)
    return rows or label_rows_empty()


def key_from_name(name: str) -> str:
    """A label key derived from its name: 'Dog (small)' -> 'dog-small'."""
    return _KEY_UNSAFE.sub("-", name.lower()).strip("-._")[:64]


def labels_payload(rows: list[LabelRow], *, from_name: bool = True) -> list[dict[str, Any]]:
    """The label set to hand to labels_validate: blank rows dropped, a missing key derived
    from the name, a missing shortcut given the name's first free letter or digit (as
    wizard.js suggests while typing; Cat c, Dog d), else the first free one of 1-9, a-z.
    `from_name=False` skips the name (exam pages keep j and k to move between questions).
    Reserved keys (labelsets.RESERVED_SHORTCUTS) are never picked."""
    filled = [row for row in rows if not row.blank]
    taken = {row.shortcut.lower() for row in filled if row.shortcut}
    payload = []
    for row in filled:
        key = row.key or key_from_name(row.name)
        shortcut = row.shortcut
        if not shortcut:
            own = re.sub(r"[^a-z0-9]", "", (row.name or key).lower()) if from_name else ""
            shortcut = next((c for c in own + _SHORTCUTS if c not in taken and c in _SHORTCUTS), "")
            taken.add(shortcut)
        payload.append({"key": key or row.name, "name": row.name or key, "shortcut": shortcut})
    return payload


def label_problems(rows: list[LabelRow]) -> list[str]:
    """Every problem of the typed label rows at once, each naming its row as the page does
    ("Label 3: …", counting blank rows, which the payload drops), never the API's "labels[2]"."""
    numbers = [position for position, row in enumerate(rows, start=1) if not row.blank]
    _, problems = label_set_problems(labels_payload(rows), where=lambda position: f"Label {numbers[position - 1]}")
    return [f"Give {MIN_LABELS} to {MAX_LABELS} labels: a name in each row you use." if "count" in problem.details
            else problem.message for problem in problems]


class ImportForm(forms.Form):
    file = forms.FileField(label="Items file", help_text="CSV with a header row, a JSON array, or JSONL.")
    format = forms.ChoiceField(label="Format", choices=IMPORT_FORMATS, initial="auto")
    # Only for files with a `prediction` column (jobs.predictions checks both when either is set).
    model = forms.CharField(
        label="Model", required=False, max_length=100,
        help_text="If the file has a prediction column: the model that made it, e.g. spam-bert.",
    )
    model_version = forms.CharField(label="Model version", required=False, max_length=50)

    def __init__(self, *args: Any, gold: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if gold:
            self.fields["file"].label = "Gold file"
            self.fields["file"].help_text = (
                "The same shapes as items, plus a “label” column (the right answer, a label key) "
                "and an optional “explanation” column shown to workers who miss it."
            )

    def file_format(self) -> str | None:
        """The chosen format, or the file name's extension; None when neither says."""
        chosen = self.cleaned_data["format"]
        if chosen != "auto":
            return str(chosen)
        name = (self.cleaned_data["file"].name or "").lower()
        extension = name.rsplit(".", 1)[-1] if "." in name else ""
        return {"csv": "csv", "json": "json", "jsonl": "jsonl", "ndjson": "jsonl"}.get(extension)


class TierForm(forms.Form):
    tier = forms.ChoiceField(label="Tier", widget=forms.RadioSelect)
    # Optional: only workers holding this qualification (passed its exam) may label the job.
    qualification = forms.TypedChoiceField(label="Only workers qualified in", required=False, coerce=int,
                                           empty_value=None)
    # Four places, as a requirement is stored (jobs.JobQualification, and the API takes): a score
    # this page shows, however it was set, is one its own form accepts.
    min_score = forms.DecimalField(label="with a score of at least", required=False, min_value=Decimal("0"),
                                   max_value=Decimal("1"), decimal_places=4, initial=Decimal("0.80"),
                                   widget=forms.NumberInput(attrs={"step": "0.01"}))
    gold_feedback = forms.BooleanField(
        label="Show workers the right answer and its explanation when they miss a gold item",
        required=False, initial=True,
        help_text="On by default: workers learn your rules faster. Turn it off if your gold set is small "
                  "enough that shared answers would give the check items away.",
    )

    # Off by default: workers never see a model's answer unless the client chooses it here.
    prelabel_model = forms.TypedChoiceField(
        label="Show workers a model's label as a suggestion (pre-labels)", required=False, coerce=int,
        empty_value=None,
        help_text="Off by default. Workers still choose, but an answer that agrees with a shown "
                  "pre-label is not independent of the model: the job page and quality figures say so.",
    )

    def __init__(self, *args: Any, tiers: list[tuple[str, str]], qualifications: list[tuple[int, str]],
                 models: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = tiers
        self.fields["qualification"].choices = [("", "Anyone (no qualification needed)"), *qualifications]
        self.fields["prelabel_model"].choices = [("", "Off: workers never see predictions"), *models]
        shown = self.initial.get("min_score")
        if isinstance(shown, Decimal) and shown != shown.quantize(SCORE_STEP):
            # A finer score (set through the API): the browser would refuse it at a 0.01 step.
            self.fields["min_score"].widget.attrs["step"] = "0.0001"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("qualification") and "qualification" not in self.errors:
            # "Anyone": the score box belongs to no requirement, so nothing in it stops a publish.
            self.errors.pop("min_score", None)
            data["min_score"] = None
        return data


SCORE_STEP = Decimal("0.01")


def score_shown(score: Decimal) -> Decimal:
    """A stored minimum score as the score box shows it: 0.8000 as 0.80 (the box's steps are
    hundredths), a finer one set through the API (0.8555) as it is, never rounded into another."""
    hundredths = score.quantize(SCORE_STEP)
    return hundredths if hundredths == score else score.normalize()
