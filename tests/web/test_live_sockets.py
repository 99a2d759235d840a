"""Every page that updates live names a socket the server routes: the worker's list, the staff
pages and the client's dashboard write the path their route has (realtime/paths.py), so renaming
a route cannot leave a page that silently never updates.

Wendy works, Ada is staff, Alice is a client.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client

from marketplace.realtime.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db


def _socket_of(page: Client, url: str) -> str:
    answer = page.get(url)
    assert answer.status_code == 200, url
    found = re.search(r'data-live-socket="([^"]+)"', answer.content.decode())
    assert found, f"{url} has no live socket"
    return found.group(1)


def _routed(path: str) -> bool:
    return any(route.pattern.match(path.lstrip("/")) for route in websocket_urlpatterns)


def test_each_live_page_names_a_socket_the_server_routes(wendy: Any, ada: Any, alice: Any) -> None:
    pages = {wendy: ["/work/"], ada: ["/staff/workers/", f"/staff/workers/{wendy.pk}/", "/staff/jobs/"],
             alice: ["/portal/jobs/"]}
    seen = set()
    for user, urls in pages.items():
        page = Client()
        page.force_login(user)
        for url in urls:
            socket = _socket_of(page, url)
            assert _routed(socket), f"{url} names {socket}, which no route serves"
            seen.add(socket)
    assert seen == {"/ws/worker/", "/ws/staff/", "/ws/client/"}


def test_a_template_naming_a_socket_that_does_not_exist_fails_to_render() -> None:
    with pytest.raises(TemplateSyntaxError, match="no live-update socket for 'admin'"):
        Template('{% load live %}{% socket_path "admin" %}').render(Context())
