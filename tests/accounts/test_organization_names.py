"""No two organizations read alike: names are compared by their key (NFKC, case-folded, letters,
digits and marks only) at sign-up, page and API, and in the Django admin.

Outside review: "ACME-VISION" and full-width "ＡＣＭＥ Vision" were accepted beside "Acme Vision".
The staff clients page, where an admin credits a bank transfer by name, showed them as one.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace.accounts.models import Organization, User
from tests.accounts.helpers import assert_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
SIGNUP = "/api/v1/auth/signup/"
LOOK_ALIKES = ["ACME-VISION", "ＡＣＭＥ Vision", "acme.vision", "Acme_Vision!", " acme  VISION "]


def signup(api: APIClient, username: str, organization: str) -> Any:
    return api.post(SIGNUP, {"password": PASSWORD, "username": username, "role": "client",
                             "organization": organization}, format="json")


def test_a_name_that_reads_like_a_taken_one_is_a_409_that_does_not_tell_the_taken_name(
    api: APIClient
) -> None:
    """Outside review: "ACME   vision" was told "An organization named “Acme Vision” already
    exists": anyone could learn an organization's exact name from a loose guess."""
    assert signup(api, "cleo", "Acme Vision").status_code == 201

    for n, name in enumerate(LOOK_ALIKES):
        error = assert_error(signup(api, f"rho{n}", name), 409, "conflict")
        assert f"An organization named “{name.strip()}”, or with a name that reads the same" in error["message"], name
        assert "already exists" in error["message"] and "Acme Vision" not in error["message"]
        assert error["details"]["organization"] == [error["message"]]
    assert list(Organization.objects.values_list("name", flat=True)) == ["Acme Vision"]
    assert not User.objects.filter(username__startswith="rho").exists()
    # Other letters are another organization, whatever the script.
    for n, name in enumerate(["Acme Visionaries", "Acme Vision 2", "Ácme Vision", "アクメ"]):
        assert signup(api, f"other{n}", name).status_code == 201, name


def test_a_name_without_a_letter_or_digit_is_a_400(api: APIClient) -> None:
    error = assert_error(signup(api, "cleo", "- . -"), 400, "invalid")

    assert error["message"] == "organization needs a letter or a digit."
    assert not Organization.objects.exists()


def test_the_sign_up_page_shows_the_clash_on_the_organization_field(client: Client, alice: User) -> None:
    data = {"role": "client", "username": "rho", "email": "rho@example.com", "password1": PASSWORD, "password2": PASSWORD,
            "organization": "ＡＣＭＥ"}  # Alice's Acme, in full-width letters

    response = client.post(reverse("signup"), data)

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["organization"])
    assert "“ＡＣＭＥ”, or with a name that reads the same" in errors and "already exists" in errors
    assert "“Acme”" not in errors
    assert Organization.objects.count() == 1 and not User.objects.filter(username="rho").exists()


def test_the_django_admin_refuses_a_look_alike_and_keys_what_it_saves(root: Client, alice: User) -> None:
    acme = alice.organization

    refused = root.post("/admin/accounts/organization/add/", {"name": "A.C.M.E.", "slug": "acme-2"})
    renamed = root.post(f"/admin/accounts/organization/{acme.pk}/change/", {"name": "ACME", "slug": "acme"})
    added = root.post("/admin/accounts/organization/add/", {"name": "Globex  Corp", "slug": "globex"})

    assert refused.status_code == 200 and "already exists" in refused.content.decode()
    assert renamed.status_code == 302 and added.status_code == 302  # its own name may change case
    keys = dict(Organization.objects.values_list("name", "name_key"))
    assert keys == {"ACME": "acme", "Globex  Corp": "globexcorp"}


def test_the_migration_keys_the_oldest_of_each_look_alike_and_leaves_later_ones_as_they_are() -> None:
    """Existing duplicates are not renamed or merged (their jobs and money hang on them): the
    oldest keeps the name's key, the later ones get none and stay as they were."""
    for slug, name in [("acme", "Acme Vision"), ("acme-2", "ACME-VISION"), ("initech", "Initech"),
                       ("dots", "..."), ("acme-3", "ＡＣＭＥ vision")]:
        Organization.objects.create(name=name, slug=slug)  # as made before the key existed
    migration = importlib.import_module("marketplace.accounts.migrations.0006_organization_name_key")

    migration._fill_keys(apps, None)

    keys = dict(Organization.objects.values_list("slug", "name_key"))
    assert keys == {"acme": "acmevision", "acme-2": None, "initech": "initech", "dots": None, "acme-3": None}
    assert Organization.objects.count() == 5
