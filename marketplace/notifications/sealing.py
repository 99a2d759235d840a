"""Webhook secrets sealed at rest: whoever reads the database (a backup, a replica, a leaked
dump) cannot sign a forged delivery with them.

A signing secret cannot be hashed like an API token, because HMAC needs the secret itself, so
it is encrypted (Fernet: AES-128-CBC with an HMAC-SHA256 tag) under a key derived from
SECRET_KEY. A rotated SECRET_KEY keeps opening the secrets sealed before the rotation as long as
the old key is in SECRET_KEY_FALLBACKS, as Django's own signing does; `manage.py
webhook_secrets_reseal` then seals them under the new key, after which the old one can go.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from marketplace.errors import ApplicationError

# Tells a sealed value from the plain secret rows written before sealing (migration 0002
# seals those; the prefix keeps the migration and its reversal idempotent).
SEALED_PREFIX = "sealed:"

# Short enough for a delivery attempt's error column (300), which is where an admin meets it.
UNREADABLE = (
    "no key of this server opens the endpoint's signing secret (SECRET_KEY changed without the "
    "old key in SECRET_KEY_FALLBACKS?): put it back as a fallback, or register the endpoint anew"
)


class SecretUnreadable(ApplicationError):
    """No key this server has opens the stored secret: SECRET_KEY changed without a fallback."""


def _fernet_for(key: str) -> Fernet:
    # A key of its own for this purpose: the raw SECRET_KEY also signs sessions and reset links.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"quorum webhook secrets v1").derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@lru_cache(maxsize=4)
def _keyring(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet_for(key) for key in keys])


def _current() -> MultiFernet:
    # Read from settings on every call (tests and rotations change them), cached per key set.
    return _keyring((settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def secret_seal(*, secret: str) -> str:
    """The value to store for a secret: sealed under the current SECRET_KEY."""
    return SEALED_PREFIX + _current().encrypt(secret.encode()).decode()


def secret_unseal(*, stored: str) -> str:
    """The secret a stored value seals; SecretUnreadable when no configured key opens it."""
    return _opened(stored, lambda keys, token: keys.decrypt(token))


def secret_reseal(*, stored: str) -> str:
    """The same secret sealed under the current SECRET_KEY (rotation: the fallbacks can go after)."""
    return SEALED_PREFIX + _opened(stored, lambda keys, token: keys.rotate(token))


def _opened(stored: str, use: Callable[[MultiFernet, bytes], bytes]) -> str:
    """`use` applied to the stored token with the configured keys; SecretUnreadable when the value
    is not sealed or no key opens it."""
    if not is_sealed(stored):
        raise SecretUnreadable("The stored webhook secret is not sealed; run the migrations.")
    try:
        return use(_current(), stored.removeprefix(SEALED_PREFIX).encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(UNREADABLE) from None
