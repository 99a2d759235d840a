"""A new password ends every API token of its account, and every live socket opened before it,
whichever way it was set.

Django calls each configured password validator's `password_changed` once a user with a new
password is saved: the portal's change and reset pages, the Django admin, `manage.py
changepassword`, a service's set_password. Hooking there (rather than in each view) means no
path can change a password and leave tokens made, or sockets opened, under the old one working.
"""

from __future__ import annotations

from typing import Any

from marketplace.accounts import services
from marketplace.accounts.access import user_access_changed


class SignInsEndWithPassword:
    """Validates nothing; on a password change revokes the account's tokens and closes its open
    sockets (see the module)."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        services.token_revoke_all(user=user)
        # An account that never signed in (a new one's first password) has no session, hence no
        # socket: no message for it.
        if user.last_login is not None:
            user_access_changed(user_id=user.pk)

    def get_help_text(self) -> str:
        return "Changing your password ends every API token of your account."
