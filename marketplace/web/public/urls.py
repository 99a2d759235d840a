"""Public and account pages, mounted at the site root (marketplace/urls.py)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path

from marketplace.web.public import accounts

urlpatterns: list[URLPattern] = [
    path("signup/", accounts.signup, name="signup"),
    # redirect_authenticated_user: a signed-in visitor goes to LOGIN_REDIRECT_URL (/portal/);
    # LoginView itself only follows a `next` that stays on this host.
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),  # POST only; closes the user's sockets
    # Throttled per e-mail and per address: the page answers 429 and mails nothing beyond the limit.
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/done/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    # Setting a new password (reset or change) revokes the account's API tokens.
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password-reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("password-change/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("password-change/done/", auth_views.PasswordChangeDoneView.as_view(
        template_name="public/password_change_done.html"), name="password_change_done"),
    path("portal/tokens/", accounts.tokens, name="tokens"),
    path("portal/tokens/<id:token_id>/revoke/", accounts.token_revoke, name="token-revoke"),
]
