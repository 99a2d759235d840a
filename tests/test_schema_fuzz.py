"""A bounded schema fuzz: the API answers whatever its OpenAPI schema allows without a 5xx, and
every answer (status, content type, body) is one the schema documents.

Schemathesis generates requests from the schema drf-spectacular builds and sends them to the
Django WSGI app in-process, on the test database, as a client, a worker and an admin (bearer
tokens), so the requests reach real code behind the permission checks. It is bounded so that
CI stays fast and stable: a fixed number of examples per operation, a fixed seed, no shrinking
and no database of past failures (derandomized, every run sends the same requests).

Cast: Acme is a client organization with an open job (items and gold); Alice is its client,
Wendy a worker, Ada an admin. Each test speaks as one of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.core import NotSet
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings

from marketplace.accounts.models import User
from marketplace.accounts.services import token_create
from tests.factories import (
    AdminFactory,
    ClientFactory,
    OrganizationFactory,
    QualificationFactory,
    WorkerFactory,
    open_job_with_items,
)

EXAMPLES_PER_OPERATION = 5

CONFIG = schemathesis.Config.from_dict({
    "seed": 20261205,
    "generation": {
        "mode": "all",  # valid requests and invalid ones (each must be refused with a documented 4xx)
        "max-examples": EXAMPLES_PER_OPERATION,
        "deterministic": True,
        "no-shrink": True,
        "database": "none",
        "with-security-parameters": False,  # the tests send a real token of their own
    },
    # Coverage and stateful phases send an unbounded number of requests: left to manual runs.
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})

# Checks left out, each with the reason:
# - positive_data_acceptance wants a 2xx for any schema-valid request, but the marketplace's
#   rules reach past a schema (a password too like the username, a balance too small, a job in
#   the wrong state): those are documented 4xx answers, not contradictions.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]


def _load_schema() -> Any:
    # Built in-process (no request, no database) so the tests can be parametrized at collection.
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)), config=CONFIG)
    loaded.app = WSGIHandler()
    return loaded


schema = _load_schema()


# The ids of the cast's objects, set by the fixture below. Half of the generated path ids (the
# even ones) are swapped for them, so requests reach the code behind the lookup instead of
# stopping at a 404 for an id that is nobody's.
CAST_IDS: dict[str, int] = {}


@schema.hook("map_path_parameters")
def _cast_ids_half_the_time(context: Any, path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    if not path_parameters:
        return path_parameters
    return {
        name: CAST_IDS[name] if name in CAST_IDS and isinstance(value, int) and value % 2 == 0 else value
        for name, value in path_parameters.items()
    }


@schema.hook("filter_case")
def _forms_carry_fields(context: Any, case: Any) -> bool:
    """A form or multipart body can only carry named fields: a generated non-object body goes
    on the wire as an empty form, which is a valid request, so no verdict can be drawn from it."""
    form = case.media_type in ("application/x-www-form-urlencoded", "multipart/form-data")
    return not (form and not isinstance(case.body, (dict, NotSet)))

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    # The cast is built once per operation by function-scoped fixtures, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(autouse=True)
def _one_connection_for_the_test() -> Iterator[None]:
    """Django's handler closes the database connection after each request; the test client stops
    that (the test's transaction lives on the connection), and so must a bare WSGIHandler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """The cast is built for every operation; real password hashing would be most of the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _bearer(user: User) -> dict[str, str]:
    _, secret = token_create(user=user, name="fuzz")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def acme_with_a_job(db: Any) -> Any:
    acme = OrganizationFactory(name="Acme", slug="acme")
    job = open_job_with_items(items=4, gold=2, organization=acme)
    CAST_IDS.clear()
    CAST_IDS.update(
        job_id=job.pk,
        item_id=job.items.filter(is_gold=False).values_list("pk", flat=True).first(),
        qualification_id=QualificationFactory().pk,
    )
    return acme


@pytest.fixture
def as_alice(acme_with_a_job: Any) -> dict[str, str]:
    return _bearer(ClientFactory(username="alice", organization=acme_with_a_job))


@pytest.fixture
def as_wendy(acme_with_a_job: Any) -> dict[str, str]:
    return _bearer(WorkerFactory(username="wendy"))


@pytest.fixture
def as_ada(acme_with_a_job: Any) -> dict[str, str]:
    return _bearer(AdminFactory(username="ada"))


@schema.parametrize()
@FUZZ
def test_a_client_gets_only_documented_answers(case: Any, as_alice: dict[str, str]) -> None:
    case.call_and_validate(headers=as_alice, excluded_checks=EXCLUDED_CHECKS)


@schema.parametrize()
@FUZZ
def test_a_worker_gets_only_documented_answers(case: Any, as_wendy: dict[str, str]) -> None:
    case.call_and_validate(headers=as_wendy, excluded_checks=EXCLUDED_CHECKS)


@schema.parametrize()
@FUZZ
def test_an_admin_gets_only_documented_answers(case: Any, as_ada: dict[str, str]) -> None:
    case.call_and_validate(headers=as_ada, excluded_checks=EXCLUDED_CHECKS)
