"""Forms of the qualification pages (clients' and staff's): they parse what a person typed; the
accounts services decide what is valid and their errors are shown on the form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from marketplace.accounts.exam_files import MAX_CELL_CHARS
from marketplace.accounts.qualifications import MAX_COOLDOWN_SECONDS
from marketplace.accounts.training import MAX_EXPLANATION_CHARS
from marketplace.labelsets import MAX_LABELS
from marketplace.limits import MAX_DESCRIPTION_CHARS
from marketplace.web.client.forms import LabelRow, key_from_name, labels_payload

MAX_LABEL_LINES_CHARS = 10_000


def labels_from_text(text: str) -> list[dict[str, Any]]:
    """One label a line: `Name`, or `key, Name`, or `key, Name, shortcut`. A missing shortcut
    gets the next free digit (exam pages choose with number keys)."""
    rows = []
    for index, line in enumerate(line for line in text.splitlines() if line.strip()):
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 1:
            rows.append(LabelRow(index, key=key_from_name(parts[0]), name=parts[0]))
        else:
            rows.append(LabelRow(index, key=parts[0], name=parts[1], shortcut=",".join(parts[2:])))
    return labels_payload(rows, from_name=False)


def labels_to_text(labels: list[dict[str, str]]) -> str:
    return "\n".join(f"{c['key']}, {c.get('name') or c['key']}, {c.get('shortcut', '')}".rstrip(", ")
                     for c in labels)


class QualificationForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120,
                           help_text="What workers and the job wizard see, e.g. “Bird species (Europe)”.")
    description = forms.CharField(label="Description", required=False, max_length=MAX_DESCRIPTION_CHARS,
                                  widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="Shown to workers above the training and the exam.")
    labels = forms.CharField(
        label="Labels", required=False, max_length=MAX_LABEL_LINES_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "cat, Cat, 1\ndog, Dog, 2"}),
        help_text=f"One a line: “Name”, or “key, Name”, or “key, Name, shortcut” (2 to {MAX_LABELS}). "
                  "Answers of the exam and training are these keys.",
    )
    labels_from_job = forms.TypedChoiceField(label="…or take the labels of a job", required=False, coerce=int,
                                             empty_value=None)
    pass_percent = forms.IntegerField(label="Pass mark (% right)", min_value=1, max_value=100, initial=80)
    retry_cooldown_seconds = forms.IntegerField(
        label="Wait before a retry (seconds)", min_value=0, max_value=MAX_COOLDOWN_SECONDS, initial=3600,
        help_text="After a failed attempt; 3600 is an hour.",
    )

    def __init__(self, *args: Any, jobs: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        if jobs:
            self.fields["labels_from_job"].choices = [("", "—"), *jobs]
        else:
            del self.fields["labels_from_job"]

    def pass_mark(self) -> Decimal:
        return Decimal(self.cleaned_data["pass_percent"]) / 100


class QuestionForm(forms.Form):
    """One question typed in: its text, the right label and (training only) why."""

    text = forms.CharField(label="Question text", max_length=MAX_CELL_CHARS, widget=forms.Textarea(attrs={"rows": 2}))
    answer = forms.ChoiceField(label="Right answer")
    explanation = forms.CharField(label="Why (shown after answering)", required=False,
                                  max_length=MAX_EXPLANATION_CHARS, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, labels: list[dict[str, str]], training: bool, prefix: str, **kwargs: Any) -> None:
        super().__init__(*args, prefix=prefix, **kwargs)
        self.fields["answer"].choices = [(c["key"], c.get("name") or c["key"]) for c in labels]
        if not training:
            del self.fields["explanation"]

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"data": {"text": self.cleaned_data["text"]}, "answer": self.cleaned_data["answer"]}
        if "explanation" in self.cleaned_data:
            row["explanation"] = self.cleaned_data["explanation"]
        return row


class QuestionFileForm(forms.Form):
    file = forms.FileField(label="CSV or JSONL file",
                           help_text="Columns: text (and any other data), answer (a label key) and, for "
                                     "training, explanation. Up to 500 rows and 1 MB; a bad row adds nothing.")
    format = forms.ChoiceField(label="Format", choices=(("auto", "From the file name"), ("csv", "CSV"),
                                                        ("jsonl", "JSONL")), initial="auto")

    def __init__(self, *args: Any, prefix: str, **kwargs: Any) -> None:
        super().__init__(*args, prefix=prefix, **kwargs)


class GoldCopyForm(forms.Form):
    job = forms.TypedChoiceField(label="Copy the gold items of", coerce=int)

    def __init__(self, *args: Any, jobs: list[tuple[int, str]], prefix: str, **kwargs: Any) -> None:
        super().__init__(*args, prefix=prefix, **kwargs)
        self.fields["job"].choices = jobs
