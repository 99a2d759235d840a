"""Small assertions shared by the accounts tests."""

from __future__ import annotations

import json
from typing import Any


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
