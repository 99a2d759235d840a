"""A signed-in portal session for view tests: Django's test client logged in as one of the cast."""

from __future__ import annotations

from django.test import Client

from marketplace.accounts.models import User


def browser(user: User) -> Client:
    """A test client with `user`'s session, as their browser would hold after logging in."""
    client = Client()
    client.force_login(user)
    return client
