"""The cast, shared by every test file:

- Acme is a client organization; Alice is its client, Bob her colleague.
- Globex is another client organization; Carol is its client and must never see Acme's data.
- Wendy and Walter are workers; Ada is an admin.
"""

from __future__ import annotations

import copy
import importlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from marketplace.accounts.models import Organization, Role, User
from marketplace.billing.models import Tier
from marketplace.cachesafe import cache_forget_down
from marketplace.quality import fast_rule
from marketplace.quality import services as quality_services
from marketplace.quality import tasks as quality_tasks
from marketplace.realtime import events
from tests.factories import PASSWORD, AdminFactory, ClientFactory, OrganizationFactory, WorkerFactory

needs_postgres = pytest.mark.skipif(
    not settings.IS_POSTGRES,
    reason="needs PostgreSQL (set DATABASE_URL): it exercises row locks, COPY or query plans SQLite lacks",
)


@pytest.fixture(autouse=True)
def _tasks_inline(settings: Any) -> None:
    """Background tasks (consensus runs) run inline in tests: no thread outlives a test."""
    settings.QUORUM_TASKS = "inline"


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 at one iteration: its 1,000,000 cost a third of a second of CPU per user a
    factory made and per password login, a large share of the suite's time. Hashes keep the
    format pbkdf2_sha256$1$salt$hash, so a test server in another process (default hashers)
    checks them all the same; a wrong password is still refused."""

    iterations = 1


@pytest.fixture(autouse=True, scope="session")
def _quick_password_hashing() -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=[f"{__name__}.QuickPBKDF2PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def _cache_keys_of_this_run() -> Iterator[None]:
    """This pytest run's cache keys under a prefix of its own. Under CI the cache is a Redis
    database that other processes use at the same time (another run's tests, the channel layer
    of the servers in tests/realtime/test_two_processes.py): job 1 of this run is not theirs."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"quorum-test-{uuid.uuid4().hex[:8]}"
    with override_settings(CACHES=caches):
        yield
    cache_forget()


def cache_forget() -> None:
    """Delete this run's cache keys. Not cache.clear(): on Redis that is FLUSHDB, which also
    wiped every other process's keys in that database; a two-process test's sockets then lost
    their channel-layer groups and waited in silence for progress that went to nobody."""
    if not settings.CACHES["default"]["BACKEND"].endswith(".RedisCache"):
        cache.clear()  # in this process's memory only
        return
    client = cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]  # noqa: SLF001
    keys = list(client.scan_iter(match=cache.make_key("*"), count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _memories_forgotten() -> None:
    """Memories keyed by row ids start empty in every test: the cache (the consensus trigger's
    claims; Redis under CI) and each process's rules of published jobs (quality.services). Each
    test's database numbers its jobs from 1 again (SQLite reuses a rolled-back row's id; every
    CI run starts a fresh database), so one test's job 1 is not another's. The consensus
    triggers' memory of their cache keys goes with the cache, and so does cachesafe's memory of
    an unreachable cache (a test that pointed it at a dead port must not leave later throttles
    uncounted)."""
    cache_forget()
    cache_forget_down()
    quality_tasks.trigger_memory_forget()
    quality_services._TERMS.clear()
    fast_rule._PEERS.clear()
    fast_rule._PEERS_APART.clear()


TIER_SEED = importlib.import_module("marketplace.billing.migrations.0002_seed_tiers")


@pytest.fixture(autouse=True)
def default_tiers(request: pytest.FixtureRequest) -> None:
    """The default tiers, present in every test that uses the database. A data migration seeds
    them, but a transactional test (`django_db(transaction=True)`) empties every table when it
    ends, seeds included; so each test puts them back first (a no-op when present). Every
    published job needs its tier: publishing prices the escrow from it."""
    if not _uses_db(request):
        return  # a pure test: no database
    request.getfixturevalue("transactional_db" if _transactional(request) else "db")
    for fields in TIER_SEED.TIERS:
        Tier.objects.get_or_create(slug=fields["slug"], defaults=fields)


@pytest.fixture(autouse=True)
def _live_progress_quiet(request: pytest.FixtureRequest) -> Iterator[None]:
    """Flows send live progress on commit, and its throttle's trailing send reads the database
    from a timer thread: one armed or still reading when a test ends raced the test's flush (the
    TRUNCATE deadlocked with its read, in CI) or found the database gone. This asks for the
    database first, so its teardown, which cancels the timers and waits for a send under way,
    runs before the database's."""
    if _uses_db(request):
        request.getfixturevalue("transactional_db" if _transactional(request) else "db")
    yield
    events.throttle_reset()


def _uses_db(request: pytest.FixtureRequest) -> bool:
    names = set(request.fixturenames)
    return request.node.get_closest_marker("django_db") is not None or bool(
        names & {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}
    )


def _transactional(request: pytest.FixtureRequest) -> bool:
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        return True
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture
def acme(db: Any) -> Organization:
    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def globex(db: Any) -> Organization:
    return OrganizationFactory(name="Globex", slug="globex")


@pytest.fixture
def alice(acme: Organization) -> User:
    return ClientFactory(username="alice", organization=acme)


@pytest.fixture
def bob(acme: Organization) -> User:
    return ClientFactory(username="bob", organization=acme)


@pytest.fixture
def carol(globex: Organization) -> User:
    return ClientFactory(username="carol", organization=globex)


@pytest.fixture
def wendy(db: Any) -> User:
    return WorkerFactory(username="wendy")


@pytest.fixture
def walter(db: Any) -> User:
    return WorkerFactory(username="walter")


@pytest.fixture
def ada(db: Any) -> User:
    return AdminFactory(username="ada")


@pytest.fixture
def root(db: Any) -> Client:
    """A browser signed in to the Django admin as a superuser."""
    superuser = User.objects.create_superuser("root", "root@example.com", PASSWORD, role=Role.ADMIN)
    browser = Client()
    browser.force_login(superuser)
    return browser


@pytest.fixture
def api() -> APIClient:
    """An unauthenticated API client; `as_user(api, user)` logs in with a real bearer token."""
    return APIClient()


def as_user(client: APIClient, user: User) -> APIClient:
    from marketplace.accounts.services import token_create

    _, secret = token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def client_for(db: Any) -> Any:
    """client_for(user) -> an APIClient authenticated as that user with a bearer token."""

    def make(user: User) -> APIClient:
        return as_user(APIClient(), user)

    return make


