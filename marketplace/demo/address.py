"""Where `make demo` serves, for every command of the demo: HOST and PORT (Makefile), the URL a
person opens, and the site URL the demo's e-mails and webhook payloads link to."""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def demo_host_port(environ: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """HOST and PORT as `make demo` passes them on (127.0.0.1:8000 unless set)."""
    return environ.get("HOST") or DEFAULT_HOST, int(environ.get("PORT") or DEFAULT_PORT)


def demo_url(host: str, port: int) -> str:
    """The address a person (and the simulated crowd) opens: a wildcard bind is reached on loopback."""
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{local}:{port}"


def demo_site_url(url: str, environ: Mapping[str, str] = os.environ) -> str:
    """What links point at: QUORUM_SITE_URL when the environment names one (a proxy in front, a
    real host name), else the address actually served, e.g. PORT=8101, not settings' :8000."""
    return environ.get("QUORUM_SITE_URL") or url
