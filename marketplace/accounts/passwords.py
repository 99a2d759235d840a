"""A new password ends every API token of its account, whichever way it was set.

Django calls each configured password validator's `password_changed` once a user with a new
password is saved: the portal's change and reset pages, the Django admin, `manage.py
changepassword`, a service's set_password. Hooking there (rather than in each view) means no
path can change a password and leave tokens made under the old one working.
"""

from __future__ import annotations

from typing import Any

from marketplace.accounts import services


class TokensEndWithPassword:
    """Validates nothing; on a password change revokes the account's tokens (see the module)."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and user.pk is not None:
            services.token_revoke_all(user=user)

    def get_help_text(self) -> str:
        return "Changing your password ends every API token of your account."
