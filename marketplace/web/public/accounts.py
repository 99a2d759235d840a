"""Account pages: sign-up and API tokens. Log-in, log-out and password reset are Django's own
views wired in web/public/urls.py with Quorum's templates; reset and change are throttled here."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from marketplace.accounts import selectors, services, throttle
from marketplace.accounts.tasks import password_reset_mail_after_commit
from marketplace.web.public.forms import SignupForm, TokenCreateForm
from marketplace.accounts.models import Role, User
from marketplace.errors import ApplicationError, NotFound
from marketplace.realtime import events

# Sign-up logs the new user in without re-checking the password, so it names the backend
# (login() insists once a second backend, e.g. for API tokens, is ever configured).
_SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal")
    if request.method == "POST":
        wait = throttle.signup_wait(request)
        if wait:
            ctx = {"message": throttle.signup_wait_message(wait)}
            response = render(request, "public/signup_throttled.html", ctx, status=429)
            response["Retry-After"] = str(wait)
            return response
        form = SignupForm(request.POST)
        valid = form.is_valid()
        # The service's checks too, whatever the form found, so every problem shows in one round.
        form.add_check_errors(services.user_signup_check(**form.check_values()))
        if valid and form.is_valid():
            data = form.cleaned_data
            try:
                user = services.user_signup(
                    username=data["username"],
                    password=data["password1"],
                    email=data["email"],
                    role=data["role"],
                    organization_name=data["organization"] if data["role"] == Role.CLIENT else "",
                )
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                login(request, user, backend=_SESSION_BACKEND)
                messages.success(request, f"Welcome to Quorum, {user.username}.")
                return redirect("portal")
    else:
        # ?role=worker from the landing page's call to action pre-selects the account type.
        role = request.GET.get("role")
        initial = role if role in (Role.CLIENT, Role.WORKER) else Role.CLIENT
        form = SignupForm(initial={"role": initial})
    ctx = {"form": form}
    return render(request, "public/signup.html", ctx)


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views below are behind login_required)."""
    return cast(User, request.user)


def _tokens_page(request: HttpRequest, form: TokenCreateForm, *, secret: str = "",
                 created_name: str = "", status: int = 200) -> HttpResponse:
    ctx = {
        "form": form,
        "tokens": selectors.api_tokens_of(user=_user(request)),
        "now": timezone.now(),
        "secret": secret,
        "created_name": created_name,
    }
    return render(request, "public/tokens.html", ctx, status=status)


@login_required
@never_cache  # the one response that carries a new secret must never sit in a cache
def tokens(request: HttpRequest) -> HttpResponse:
    """Any signed-in role: clients and workers both use the API. The secret is shown in the
    response to the POST that made it and nowhere else (only its hash is stored)."""
    if request.method != "POST":
        return _tokens_page(request, TokenCreateForm())
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form, status=400)
    days = form.cleaned_data["expires_in_days"]
    try:
        token, secret = services.token_create(
            user=_user(request), name=form.cleaned_data["name"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    except ApplicationError as exc:
        form.add_error("name", exc.message)
        return _tokens_page(request, form, status=400)
    return _tokens_page(request, TokenCreateForm(), secret=secret, created_name=token.name)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        # Scoped to the requester by the service: someone else's token id looks absent.
        services.token_revoke(user=_user(request), token_id=token_id)
    except NotFound:
        raise Http404("No such token.") from None
    messages.success(request, "Token revoked. Programs using it can no longer sign in.")
    return redirect("tokens")


class PasswordResetView(auth_views.PasswordResetView):
    """Mail a reset link, at most QUORUM_PASSWORD_RESETS_PER_EMAIL times an hour per e-mail and
    QUORUM_PASSWORD_RESETS_PER_ADDRESS per client address: beyond either, 429 and no mail. The
    count comes before anyone looks the e-mail up, and the lookup and the mail happen off the
    request (accounts/tasks.py), so an e-mail without an account is counted and answered exactly
    like one with an account, in the same time."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        wait = throttle.password_reset_wait(self.request, email=form.cleaned_data["email"])
        if wait:
            ctx = {"message": throttle.password_reset_wait_message(wait)}
            response = render(self.request, "registration/password_reset_throttled.html", ctx, status=429)
            response["Retry-After"] = str(wait)
            return response
        # Not super().form_valid(): Django's mails inline, only when an account has the e-mail.
        # The link is on QUORUM_SITE_URL, whatever Host the request named (accounts/tasks.py).
        password_reset_mail_after_commit(email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change the password (signed in, knowing the old one). Every API token of the account ends
    (accounts/passwords.py, as on any password change); this browser stays signed in (Django updates
    the session's hash), other sessions end."""

    template_name = "public/password_change.html"
    success_url = reverse_lazy("password_change_done")

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        # A wrong current password counts as a failed log-in of the account (throttle.account_request);
        # once it is locked, even the right one is refused here, as on the log-in page.
        if throttle.login_locked_out(throttle.account_request(request), username=request.user.get_username()):
            return locked_out(request)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: PasswordChangeForm) -> HttpResponse:
        if form.has_error("old_password", code="password_incorrect"):
            username = self.request.user.get_username()
            throttle.password_check_failed(self.request, username=username)
            if throttle.login_locked_out(throttle.account_request(self.request), username=username):
                return locked_out(self.request)  # the failure that reaches the limit says so already
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Log out (POST only), then close the user's open WebSockets: a socket outliving its session
    would go on receiving the organization's live events."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        user_id = request.user.pk if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user_id is not None:
            events.session_ended(user_id=user_id)
        return response


def locked_out(request: HttpRequest, *_: object) -> HttpResponse:
    """The page for a log-in (portal or Django admin) or a password change refused by the throttle:
    429, and why. django-axes calls it (AXES_LOCKOUT_CALLABLE) with the response and credentials,
    unused here."""
    if request.path_info == reverse("password_change"):
        ctx = {"title": "Too many wrong passwords", "message": throttle.password_change_lockout_message(request)}
    else:
        ctx = {"title": "Too many failed log-ins", "message": throttle.lockout_message(request)}
    response = render(request, "registration/locked_out.html", ctx, status=429)
    response["Retry-After"] = str(throttle.lockout_seconds(request))
    return response
