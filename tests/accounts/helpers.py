"""Small assertions shared by the accounts tests."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client, TestCase
from django.urls import reverse


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the one API error body with this status and code; returns its inner dict."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def without_labels(payload: Any) -> str:
    """JSON text of a payload minus its label lists: the labels are public, answers are not."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("labels", "exam_labels")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(payload))


def reset_asked(browser: Client, email: str) -> Any:
    """Post the password-reset form, then run what the page queued for after its commit (the mail,
    sent inline in tests) as a real request's commit would: a test's own transaction never commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return browser.post(reverse("password_reset"), {"email": email})
