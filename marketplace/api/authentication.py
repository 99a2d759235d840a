"""`Authorization: Bearer <token>` for scripts. Tokens are looked up by their SHA-256."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cache
from typing import Any

from django.db import connection, models
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from marketplace.accounts.models import ApiToken, User, hash_token

# Writing last_used_at on every request would turn each API call into a write; once a minute is plenty.
_TOUCH_EVERY = timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode().lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'")
        try:
            secret = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Token contains invalid characters") from None
        token = token_with_user(hash_token(secret))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token")
        now = timezone.now()
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                f"This token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; create a new one."
            )
        if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


# --- the lookup: every API request makes it, so its SQL is built once per process


def token_with_user(key_hash: str) -> ApiToken | None:
    """The token with this hash and its user (both read afresh, no cache: a revoked token or a
    deactivated user fails at once), in one query on the unique key_hash index.

    What ApiToken.objects.select_related("user").filter(key_hash=...).first() returns, without
    building that query anew each time: Django's compiler took about 1 ms of CPU per request,
    six times the round trip (BENCHMARKS.md, "http-load"). Values pass the fields' own converters
    (a datetime from SQLite's text, JSON), as the compiler would apply them."""
    sql, token_part, user_part = _token_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(token_part[0])
    token = _instance(ApiToken, token_part, row[:split])
    token.user = _instance(User, user_part, row[split:])
    return token


_Part = tuple[list[str], list[list[Callable[..., Any]]], list[Any]]  # attnames, converters, columns


def _instance(model: type[models.Model], part: _Part, values: Sequence[Any]) -> Any:
    names, converters, columns = part
    converted = list(values)
    for i, chain in enumerate(converters):
        for convert in chain:
            converted[i] = convert(converted[i], columns[i], connection)
    return model.from_db(connection.alias, names, converted)


@cache
def _token_query(vendor: str) -> tuple[str, _Part, _Part]:
    """SELECT token columns, user columns FROM token JOIN user WHERE key_hash = %s (per vendor)."""
    quote = connection.ops.quote_name
    parts: list[_Part] = []
    selected: list[str] = []
    for model, alias in ((ApiToken, "t"), (User, "u")):
        fields = model._meta.concrete_fields
        columns = [field.get_col(alias) for field in fields]
        parts.append((
            [field.attname for field in fields],
            [connection.ops.get_db_converters(col) + col.get_db_converters(connection) for col in columns],
            columns,
        ))
        selected += [f"{alias}.{quote(field.column)}" for field in fields]
    token_table, user_table = quote(ApiToken._meta.db_table), quote(User._meta.db_table)
    sql = (
        f"SELECT {', '.join(selected)} FROM {token_table} t JOIN {user_table} u "
        f"ON u.{quote(User._meta.pk.column)} = t.{quote(ApiToken._meta.get_field('user').column)} "
        f"WHERE t.{quote(ApiToken._meta.get_field('key_hash').column)} = %s"
    )
    return sql, parts[0], parts[1]
