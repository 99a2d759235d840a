"""`{% socket_path "worker" %}`: a role's live-update socket, from its route (realtime/paths.py)."""

from __future__ import annotations

from django import template

from marketplace.realtime.paths import SOCKET_PATHS

register = template.Library()


@register.simple_tag
def socket_path(role: str) -> str:
    """The socket's path; an unknown role is a template error, not a page that silently never updates."""
    try:
        return SOCKET_PATHS[role]
    except KeyError:
        raise template.TemplateSyntaxError(f"no live-update socket for {role!r}; one of {', '.join(SOCKET_PATHS)}") from None
