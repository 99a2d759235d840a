"""Every page carries a Content-Security-Policy that allows scripts from this site only (no inline
script, no eval) and the live WebSockets to this host; no template relies on inline script; over
HTTPS with DEBUG off browsers are told to stay on HTTPS (HSTS)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User

ROOT = Path(__file__).resolve().parents[1]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
pytestmark = pytest.mark.django_db


def policy_of(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("path", ["/", "/login/", "/signup/", "/admin/login/", "/api/docs/", "/no-such-page/"])
def test_public_pages_carry_a_policy_with_scripts_from_this_site_only(client: Client, path: str) -> None:
    policy = policy_of(client.get(path))

    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


def test_portal_pages_may_open_websockets_to_this_host_only(client: Client, alice: User) -> None:
    client.force_login(alice)

    plain = policy_of(client.get(reverse("portal"), follow=True))
    secure = policy_of(client.get(reverse("tokens"), secure=True))

    assert set(plain["connect-src"]) == {"'self'", "ws://testserver"}
    assert set(secure["connect-src"]) == {"'self'", "wss://testserver"}


def test_no_template_has_an_inline_script_or_event_handler() -> None:
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)[:80]}" for m in pattern.finditer(text)]
        if "javascript:" in text:
            offenders.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert offenders == []


def test_the_api_docs_load_every_script_from_this_site(client: Client) -> None:
    html = client.get("/api/docs/").content.decode()

    assert not INLINE_SCRIPT.search(html)
    sources = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    assert sources and all(src.startswith("/") for src in sources), sources


def test_over_https_with_debug_off_browsers_are_told_to_stay_on_https(client: Client) -> None:
    response = client.get("/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"


def test_every_answer_names_its_own_host_for_sockets_however_often_asked(client: Client, settings: object) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "other.example"]  # type: ignore[attr-defined]

    # Not /healthz: the probe is answered before the host is read (marketplace/health.py).
    first, again = (policy_of(client.get("/login/")) for _ in range(2))
    other = policy_of(client.get("/login/", HTTP_HOST="other.example", secure=True))
    plain_again = policy_of(client.get("/login/"))

    assert first == again == plain_again and set(first["connect-src"]) == {"'self'", "ws://testserver"}
    assert set(other["connect-src"]) == {"'self'", "wss://other.example"}
    assert first["script-src"] == other["script-src"] == ["'self'"]
