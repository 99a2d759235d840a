"""The Content-Security-Policy holds in a real browser: the API docs (once an inline script) work
under it, and an injected inline script does not run. The page fixture fails any test on a
violation Chromium reports, so every browser test also checks its pages against the policy."""

from __future__ import annotations

from typing import Any


def test_the_api_docs_render_their_operations_under_the_policy(page: Any) -> None:
    page.goto("/api/docs/")

    page.get_by_text("/api/v1/auth/token/").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 10


def test_an_injected_inline_script_does_not_run(chromium: Any, live_url: str) -> None:
    context = chromium.new_context(base_url=live_url)  # not the fixture: this violation is wanted
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto("/login/")

    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.injected = 1'; document.body.appendChild(s); }""")

    assert page.evaluate("() => window.injected") is None
    assert any("Content Security Policy" in m for m in messages)
    context.close()
