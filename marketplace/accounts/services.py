"""Writes on users, organizations and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from marketplace.accounts.models import (
    NAME_KEY_MAX_CHARS, ApiToken, Organization, Role, Suspension, User, hash_token,
)
from marketplace.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from marketplace.names import name_clean, name_key

TOKEN_PREFIX = "qrm_"


def _password_check(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), details={"password": exc.messages}) from None


def _username_clean(username: str) -> str:
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise ApplicationError("username must be 1 to 150 characters.")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), details={"username": exc.messages}) from None
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("That username is taken.")
    return username


def _user_save_new(user: User) -> None:
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent sign-up won the race for this username
        raise Conflict("That username is taken.") from None


def organization_name_key(name: str) -> str:
    """The form of a name two organizations may not share (names.name_key): case, letter widths,
    spacing and punctuation ignored.

    "Acme Vision", "ACME-VISION" and "ＡＣＭＥ Vision" read alike on the staff clients page, where
    an admin credits a bank transfer by name, so only the first may exist."""
    return name_key(name)


# Two-key advisory lock space of organization names (the other two-key spaces: skills.py 7072,
# paying.py and sql_gold.py on ids; a collision only makes two sign-ups queue).
_NAME_LOCK = "SELECT pg_advisory_xact_lock(7073, %s)"


def _organization_name_claim(key: str) -> None:
    """Hold the name key `key` until this transaction ends, so a concurrent sign-up of a name
    that reads the same waits here, then sees this one's organization and answers a Conflict
    (the unique index on name_key alone would answer it an IntegrityError). Taken
    before any row lock, so it waits on nothing else. SQLite serializes writers already."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    with connection.cursor() as cursor:
        cursor.execute(_NAME_LOCK, [int.from_bytes(digest, "big", signed=True)])


def _name_taken(name: str) -> Conflict:
    """The 409 for a name that reads like a taken one. It never names that organization, nor says
    whether the match is exact: sign-up is open to anyone, and a loose guess must not return an
    organization's exact name."""
    message = (
        f"An organization named “{name}”, or with a name that reads the same (case, letter widths, "
        "spaces and punctuation aside), already exists. If you work there, ask a colleague to add you "
        "(POST /api/v1/organization/members/); otherwise choose another name."
    )
    return Conflict(message, details={"organization": [message]})


def organization_name_check(*, name: str, exclude_id: int | None = None) -> tuple[str, str]:
    """(the cleaned name, its key) for a new or renamed organization, under the name's lock
    (caller holds a transaction); 400 for a name without a letter or digit, 409 when an
    organization's name already reads the same (_name_taken). `exclude_id`: the organization
    being renamed."""
    name = name_clean(name, field="organization", max_chars=200)
    key = organization_name_key(name)
    if not key:
        raise ApplicationError("organization needs a letter or a digit.",
                               details={"organization": ["needs a letter or a digit"]})
    if len(key) > NAME_KEY_MAX_CHARS:
        raise ApplicationError("organization is too long once its letters are normalized.",
                               details={"organization": ["too long"]})
    _organization_name_claim(key)
    others = Organization.objects.filter(name_key=key)
    if (others.exclude(pk=exclude_id) if exclude_id else others).exists():
        raise _name_taken(name)
    return name, key


def _organization_for(name: str) -> Organization:
    name, key = organization_name_check(name=name)
    base = slugify(name)[:60] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    try:
        with transaction.atomic():
            return Organization.objects.create(name=name, name_key=key, slug=slug)
    except IntegrityError:
        # The unique index: a writer the lock did not queue (the Django admin). Else the slug's.
        if not Organization.objects.filter(name_key=key).exists():
            raise
        raise _name_taken(name) from None


@transaction.atomic
def user_signup(
    *, username: str, password: str, email: str = "", role: str, organization_name: str = ""
) -> User:
    """Self sign-up for workers and clients. A client creates its organization here.

    Admins are never made by sign-up (see admin_create).
    """
    if role not in (Role.WORKER, Role.CLIENT):
        raise ApplicationError("role must be 'worker' or 'client'.")
    username = _username_clean(username)
    user = User(username=username, email=email.strip(), role=role)
    _password_check(password, user)
    if role == Role.CLIENT:
        if not organization_name:
            raise ApplicationError("organization is required for a client account.")
        user.organization = _organization_for(organization_name)
    user.set_password(password)
    _user_save_new(user)
    return user


@transaction.atomic  # organization_name_check's lock on the name, released when the check ends
def user_signup_check(
    *, username: str, password: str, email: str = "", role: str, organization_name: str = ""
) -> dict[str, list[str]]:
    """Every reason user_signup would refuse these, per field ("username", "password",
    "organization"), writing nothing: a sign-up form shows them all in one round. user_signup
    checks again when it writes (a name free now may be taken by then)."""
    problems: dict[str, list[str]] = {}

    def check(field: str, run: Callable[[], object]) -> None:
        try:
            run()
        except ApplicationError as exc:
            said = exc.details.get(field)
            problems[field] = [str(m) for m in said] if isinstance(said, list) else [exc.message]

    check("username", lambda: _username_clean(username))
    stand_in = User(username=(username or "").strip(), email=(email or "").strip(), role=role)
    check("password", lambda: _password_check(password, stand_in))  # "too like your username" needs it
    if role == Role.CLIENT and organization_name:
        check("organization", lambda: organization_name_check(name=organization_name))
    return problems


@transaction.atomic
def client_invite(*, inviter: User, username: str, password: str, email: str = "") -> User:
    """A client adds a colleague to its own organization."""
    if not inviter.is_client:
        raise PermissionDenied("Only clients add members to their organization.")
    username = _username_clean(username)
    user = User(
        username=username, email=email.strip(), role=Role.CLIENT, organization_id=inviter.organization_id
    )
    _password_check(password, user)
    user.set_password(password)
    _user_save_new(user)
    return user


@transaction.atomic
def admin_create(*, creator: User, username: str, password: str, email: str = "") -> User:
    """Only admins make admins."""
    if not creator.is_admin:
        raise PermissionDenied("Only admins create admins.")
    username = _username_clean(username)
    # Admins run the platform: the Django admin (raw records) is theirs in full, hence superuser.
    user = User(username=username, email=email.strip(), role=Role.ADMIN, is_staff=True, is_superuser=True)
    _password_check(password, user)
    user.set_password(password)
    _user_save_new(user)
    return user


def token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Return the token and its secret; the secret is shown once and never stored.

    expires_at (aware) ends the token then; None keeps it until it is revoked."""
    name = (name or "").strip() or "default"
    if len(name) > 100:
        raise ApplicationError("Token name must be at most 100 characters.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("expires_at must be in the future.", details={"expires_at": ["must be in the future"]})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=secret[:12], key_hash=hash_token(secret),
                                    expires_at=expires_at)
    return token, secret


def token_revoke(*, user: User, token_id: int) -> None:
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise NotFound("Token not found.")


def token_revoke_all(*, user: User) -> int:
    """Revoke every token of the user; returns how many. Called whenever the password is reset or
    changed: whoever knew the old password may have made tokens, and they must not outlive it."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


SUSPENSION_TEXT_MAX = 2000  # characters of a suspension's reason, and of its evidence


@transaction.atomic
def user_suspend(*, worker: User, actor: User, reason: str, evidence: str = "") -> User:
    """Suspend a worker platform-wide: from now on they claim and submit nothing anywhere
    (labeling.claiming and labeling.submitting refuse a suspended account). A reason is
    required; the evidence (what showed it: links, ids, figures) is kept beside it. Compare-and-
    set on suspended_at: of two admins at once, one suspends and the other gets 409."""
    if not actor.is_admin:
        raise PermissionDenied("Only an admin can suspend a worker.")
    if not worker.is_worker:
        raise ApplicationError("Only worker accounts can be suspended.")
    reason, evidence = (reason or "").strip(), (evidence or "").strip()
    if not reason:
        raise ApplicationError("A reason is required.", details={"reason": ["required"]})
    for name, text in (("reason", reason), ("evidence", evidence)):
        if len(text) > SUSPENSION_TEXT_MAX:
            raise ApplicationError(f"The {name} is at most {SUSPENSION_TEXT_MAX} characters.",
                                   details={name: [f"at most {SUSPENSION_TEXT_MAX} characters"]})
    now = timezone.now()
    updated = User.objects.filter(pk=worker.pk, suspended_at__isnull=True).update(
        suspended_at=now, suspension_reason=reason, suspension_evidence=evidence, suspended_by=actor
    )
    if not updated:
        raise Conflict("This worker is already suspended.")
    Suspension.objects.create(worker=worker, suspended_at=now, suspended_by=actor, reason=reason,
                              evidence=evidence)
    worker.refresh_from_db()
    return worker


@transaction.atomic
def user_unsuspend(*, worker: User, actor: User, note: str = "") -> User:
    """Lift a suspension. The worker's current state is cleared; the suspension's record
    (Suspension) keeps its reason and evidence and gains who lifted it, when and why (`note`)."""
    if not actor.is_admin:
        raise PermissionDenied("Only an admin can lift a suspension.")
    note = (note or "").strip()
    if len(note) > SUSPENSION_TEXT_MAX:
        raise ApplicationError(f"The note is at most {SUSPENSION_TEXT_MAX} characters.",
                               details={"note": [f"at most {SUSPENSION_TEXT_MAX} characters"]})
    updated = User.objects.filter(pk=worker.pk, suspended_at__isnull=False).update(
        suspended_at=None, suspension_reason="", suspension_evidence="", suspended_by=None
    )
    if not updated:
        raise Conflict("This worker is not suspended.")
    now = timezone.now()
    Suspension.objects.filter(worker=worker, lifted_at__isnull=True).update(
        lifted_at=now, lifted_by=actor, lift_note=note
    )
    worker.refresh_from_db()
    return worker
