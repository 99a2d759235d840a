"""The staff list of sign-ups: new workers and clients, newest first, within a window.

The cast (tests/conftest.py): Ada is an admin; Alice is Acme's client; Wendy is a worker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.accounts.services import user_signup
from tests.portal import browser

pytestmark = pytest.mark.django_db



def test_new_accounts_are_listed_newest_first_with_their_role_and_organization(ada: User) -> None:
    user_signup(username="nina", password="a long passphrase 42", role="worker")
    user_signup(username="otto", password="a long passphrase 42", role="client", organization_name="Initech")
    body = browser(ada).get(reverse("staff-signups")).content.decode()
    assert body.index('data-user="otto"') < body.index('data-user="nina"')
    assert "Initech" in body and "INITECH</code>" in body and reverse("staff-worker", args=[User.objects.get(username="nina").pk]) in body
    assert 'data-user="ada"' not in body  # admins are not sign-ups


def test_the_window_and_the_role_narrow_the_list(ada: User) -> None:
    old = user_signup(username="olga", password="a long passphrase 42", role="worker")
    User.objects.filter(pk=old.pk).update(date_joined=timezone.now() - timedelta(days=45))
    user_signup(username="nina", password="a long passphrase 42", role="worker")
    user_signup(username="otto", password="a long passphrase 42", role="client", organization_name="Initech")
    staff = browser(ada)
    recent = staff.get(reverse("staff-signups")).content.decode()
    assert 'data-user="olga"' not in recent and 'data-user="nina"' in recent
    assert 'data-user="olga"' in staff.get(reverse("staff-signups") + "?days=90").content.decode()
    workers = staff.get(reverse("staff-signups") + "?role=worker").content.decode()
    assert 'data-user="nina"' in workers and 'data-user="otto"' not in workers
    # Anything else in the query string reads as the defaults, never an error.
    assert staff.get(reverse("staff-signups") + "?days=-1&role=admin&page=x").status_code == 200


def test_only_admins_see_sign_ups(alice: User, wendy: User) -> None:
    for user in (alice, wendy):
        assert browser(user).get(reverse("staff-signups")).status_code == 404
    assert Client().get(reverse("staff-signups")).status_code == 302
