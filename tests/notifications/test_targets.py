"""Refused targets: a webhook URL is the only client-supplied address Quorum fetches, so it must
be https and every address its host resolves to public, checked when registered and before each
request, with the connection pinned to the address checked.

Alice (Acme) tries to point webhooks inside Quorum's network; each attempt is a 400 that names
the reason, and nothing is registered. No test here allows 127.0.0.1 unless it says so.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from marketplace import flows
from marketplace.notifications.models import Delivery, WebhookEndpoint
from marketplace.notifications.targets import address_is_public
from tests.factories import open_job_with_items
from tests.notifications.helpers import endpoint_for
from tests.notifications.receiver import Receiver


def _refused(answer: Any) -> str:
    """The message of a 400 refusing the target."""
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "webhook_target_refused"
    return str(error["message"])


def _register(alice: Any, client_for: Any, url: str) -> Any:
    return client_for(alice).post("/api/v1/webhooks/", {"url": url, "events": ["job.completed"]}, format="json")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://[::1]/hooks",
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hooks",  # a name resolving to a loopback address
        "https://[::ffff:127.0.0.1]/hooks",
        "https://100.64.0.1/hooks",
        "https://[fe80::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://0.0.0.0/hooks",
        "https://224.0.0.1/hooks",
    ],
)
def test_a_private_loopback_or_metadata_address_is_refused_at_registration(
    alice: Any, client_for: Any, url: str
) -> None:
    assert "not a public internet address" in _refused(_register(alice, client_for, url))
    assert not WebhookEndpoint.objects.exists()


def test_a_refused_name_gets_one_answer_whatever_the_resolver_said(
    alice: Any, client_for: Any, monkeypatch: Any
) -> None:
    """Outside review: "could not be resolved ([Errno -2] ...)" for one name and "resolves to
    10.1.2.3" for another told a client what Quorum's resolver knows."""
    real = socket.getaddrinfo

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "missing.acme.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host == "inside.acme.test":
            return real("10.1.2.3", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    missing = _register(alice, client_for, "https://missing.acme.test/hooks")
    inside = _register(alice, client_for, "https://inside.acme.test/hooks")

    assert _refused(missing).replace("missing", "inside") == _refused(inside)
    assert missing.json()["error"]["details"] == inside.json()["error"]["details"] == {}
    for text in (missing.content.decode(), inside.content.decode()):
        assert "10.1.2.3" not in text and "Errno" not in text and "not known" not in text
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("port", [0, 22, 25, 1023, 2375, 3306, 5432, 5984, 6379, 8500, 9200, 11211, 27017])
def test_a_port_below_1024_or_of_an_internal_service_is_refused(alice: Any, client_for: Any, port: int) -> None:
    """Outside review: http://1.1.1.1:6379/ and :22/ were accepted: Quorum as a port prober."""
    message = _refused(_register(alice, client_for, f"https://93.184.215.14:{port}/hooks"))

    assert f"port {port}" in message and "443" in message
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["https://93.184.215.14/hooks", "https://93.184.215.14:443/hooks",
                                 "https://93.184.215.14:8443/hooks", "https://93.184.215.14:1024/hooks",
                                 "https://93.184.215.14:65535/hooks"])
def test_the_web_ports_and_other_unprivileged_ports_are_accepted(alice: Any, client_for: Any, url: str) -> None:
    assert _register(alice, client_for, url).status_code == 201


def test_plain_http_is_refused_outside_debug(alice: Any, client_for: Any) -> None:
    answer = client_for(alice).post(
        "/api/v1/webhooks/", {"url": "http://example.com/hooks", "events": ["job.completed"]}, format="json")

    assert answer.status_code == 400 and "https://" in answer.json()["error"]["message"]
    assert not WebhookEndpoint.objects.exists()


def test_the_allow_list_lets_only_the_hosts_it_names_through(alice: Any, settings: Any) -> None:
    settings.QUORUM_WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    endpoint_for(alice, "http://127.0.0.1:9/hooks", ["job.completed"])  # the tests' receiver's host

    with pytest.raises(Exception, match="not a public internet address"):
        endpoint_for(alice, "https://localhost/hooks", ["job.completed"])  # same address, other name
    with pytest.raises(Exception, match="not a public internet address"):
        endpoint_for(alice, "https://10.0.0.1/hooks", ["job.completed"])


def test_a_target_that_turned_private_after_registration_is_refused_before_the_request(
    alice: Any, receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    settings.QUORUM_WEBHOOK_ALLOW_HOSTS = []  # the operator no longer trusts it
    settings.DEBUG = True  # plain http passes in development; the address check still holds
    job = open_job_with_items(items=2, organization=alice.organization)

    with django_capture_on_commit_callbacks(execute=True):
        flows.job_pause(job=job, user=alice)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert receiver.requests == []
    assert delivery.response_code is None and delivery.error.startswith("refused: ")
    assert "The host 127.0.0.1 is not a public internet address" in delivery.error


def test_the_request_goes_to_the_address_that_was_checked_not_a_second_lookup(
    alice: Any, receiver: Receiver, settings: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """DNS rebinding: a name that answers once with one address and then with another. Quorum
    resolves once per attempt and connects to that address, sending the name as Host."""
    port = receiver.url.split(":")[2].split("/")[0]
    settings.QUORUM_WEBHOOK_ALLOW_HOSTS = ["hooks.acme.test"]
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.acme.test":
            lookups.append(host)
            if len(lookups) % 2 == 0:  # every second answer is a different address
                raise socket.gaierror("rebinding: the name now points elsewhere")
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    endpoint, _ = endpoint_for(alice, f"http://hooks.acme.test:{port}/hooks", ["job.paused"])  # lookup 1
    lookups.clear()
    job = open_job_with_items(items=2, organization=alice.organization)

    with django_capture_on_commit_callbacks(execute=True):
        flows.job_pause(job=job, user=alice)

    assert lookups == ["hooks.acme.test"]  # one lookup, and the connection used its answer
    [got] = receiver.requests
    assert got.headers["host"] == f"hooks.acme.test:{port}"
    assert Delivery.objects.get(endpoint=endpoint).status == "succeeded"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True), ("2606:4700::1111", True),
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("240.0.0.1", False),
        ("255.255.255.255", False), ("::1", False), ("::", False), ("fc00::1", False), ("fe80::1", False),
        ("ff02::1", False), ("::ffff:10.0.0.1", False), ("2002:a00:1::", False), ("64:ff9b::a9fe:a9fe", False),
    ],
)
def test_only_public_addresses_pass(address: str, public: bool) -> None:
    assert address_is_public(ipaddress.ip_address(address)) is public
