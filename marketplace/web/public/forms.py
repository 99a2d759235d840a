"""Forms for the public account pages. They parse and report per field; the rules themselves
(username taken, password strength, the client's organization) live in accounts.services."""

from __future__ import annotations

from typing import Any

from django import forms

from marketplace.accounts.models import Role
from marketplace.errors import ApplicationError

ROLE_CHOICES = [
    (Role.CLIENT.value, "I need data labeled"),
    (Role.WORKER.value, "I want to label and earn"),
]


class SignupForm(forms.Form):
    role = forms.ChoiceField(label="Account type", choices=ROLE_CHOICES, widget=forms.RadioSelect)
    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        label="Email",
        help_text="For password resets; never shown to anyone.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 8 characters, not too common, not like your username.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    organization = forms.CharField(
        label="Organization name",
        max_length=200,
        required=False,
        help_text="Clients only: your team or company. Colleagues can join it later.",
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        # Parsing only: whether a client needs an organization is the service's rule, but an
        # empty box for a client is a form slip best reported next to the box before any query.
        if data.get("role") == Role.CLIENT and not (data.get("organization") or "").strip():
            self.add_error("organization",
                           "Name your organization; your jobs and invoices belong to it.")
        return data

    def check_values(self) -> dict[str, str]:
        """What accounts.services.user_signup_check needs, as typed where a field did not parse."""
        data, raw = getattr(self, "cleaned_data", {}), self.data
        role = data.get("role") or raw.get("role", "")
        return {"username": str(raw.get("username", "")), "password": str(raw.get("password1", "")),
                "email": str(data.get("email") or ""), "role": str(role),
                "organization_name": str(data.get("organization") or "").strip()}

    def add_check_errors(self, problems: dict[str, list[str]]) -> None:
        """user_signup_check's problems beside their fields, unless the form said something there."""
        fields = {"username": "username", "password": "password1", "organization": "organization"}
        for key, messages in problems.items():
            field = fields.get(key)
            if field and not self.has_error(field):
                for message in messages:
                    self.add_error(field, message)

    def add_service_error(self, exc: ApplicationError) -> None:
        """Show a domain error next to the field it concerns (the whole form when unclear)."""
        fields = {"password": "password1", "username": "username", "organization": "organization",
                  "role": "role", "email": "email"}
        for key, messages in exc.details.items():
            if key in fields:
                for message in messages if isinstance(messages, list) else [messages]:
                    self.add_error(fields[key], str(message))
                return
        message = exc.message
        lowered = message.lower()
        for word, field in (("username", "username"), ("organization", "organization"),
                            ("password", "password1"), ("role", "role")):
            if word in lowered:
                self.add_error(field, message)
                return
        self.add_error(None, message)


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        required=False,
        help_text="Where it will be used, e.g. “training pipeline”. Defaults to “default”.",
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=[("", "Never (until revoked)"), ("7", "In 7 days"), ("30", "In 30 days"),
                 ("90", "In 90 days"), ("365", "In a year")],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="A token for a trial or a contractor can end by itself.",
    )
