"""Accounts REST API: sign-up, tokens, the current user, admin creation, organization members.

Token secrets appear in exactly the responses of sign-up and of the two ways to create a token,
once, and those say `Cache-Control: no-store` (no cache, browser or proxy, keeps a copy; a
sign-up or log-in carries no Authorization header, which alone keeps shared caches off); every
other response shows a token's name and prefix only.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts import selectors, services, throttle
from marketplace.accounts.models import ApiToken, Role, User
from marketplace.api.permissions import IsAdmin, IsClient
from marketplace.api.common import (
    AwareDateTimeField,
    Pagination,
    extend_list_schema,
    refuse_numbers_as_text,
    refuse_unknown_fields,
)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <token>` in /api/schema/. Defined here because this
    module is imported with the URLconf, which is what registers the extension."""

    target_class = "marketplace.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A token from /api/v1/auth/token/."}


#: On a view method whose response carries a secret (never_cache: no-store, no-cache, private).
carries_secret = method_decorator(never_cache)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Parse request data with a serializer; its errors become the one 400 error body.

    Unknown fields are refused rather than dropped, so a typo ("pass_marks") is not silently
    replaced by a default.
    """
    serializer = serializer_class(data=data)
    refuse_numbers_as_text(serializer, data)
    refuse_unknown_fields(serializer.fields, data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class LockedOut(exceptions.Throttled):
    """A log-in refused because of too many failures, or a sign-up because of too many from one
    address (429 with Retry-After, in the one error format)."""

    default_code = "locked_out"

    def __init__(self, *, wait: int, detail: str, code: str | None = None) -> None:
        # Not Throttled's own __init__: it appends "Expected available in N seconds." to a
        # message that already says how long.
        exceptions.APIException.__init__(self, detail, code)
        self.wait = wait


class OrganizationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    role = serializers.CharField()
    organization = OrganizationSerializer(allow_null=True)


class TokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: until revoked.")


class NewTokenOutputSerializer(TokenOutputSerializer):
    token = serializers.CharField(help_text="The secret. Shown once: store it now.")


class SignupInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=[Role.WORKER.value, Role.CLIENT.value])
    organization = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200,
        help_text="The organization's name; required for a client.",
    )


class SignupOutputSerializer(serializers.Serializer):
    user = UserOutputSerializer()
    token = serializers.CharField(help_text="An API token secret. Shown once: store it now.")


class TokenObtainInputSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    expires_at = AwareDateTimeField(
        required=False, allow_null=True, default=None,
        help_text="When the token stops working: a date and time with its time zone (ISO 8601, "
        "2026-12-05T15:04:00Z); a date alone or a time without a zone is a 400. Omitted or null: until revoked.",
    )


class TokenCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    expires_at = AwareDateTimeField(
        required=False, allow_null=True, default=None,
        help_text="When the token stops working: a date and time with its time zone (ISO 8601, "
        "2026-12-05T15:04:00Z); a date alone or a time without a zone is a 400. Omitted or null: until revoked.",
    )


class NewUserInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


def present_user(user: User) -> dict[str, Any]:
    org = user.organization
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "organization": {"id": org.pk, "name": org.name, "slug": org.slug} if org else None,
    }


def present_token(token: ApiToken, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = TokenOutputSerializer(token).data
    if secret is not None:
        body["token"] = secret
    return body


class PublicView(APIView):
    """No authentication at all: a stale or bad credential must not block signing up or in.

    Still answers 401 (not 403) for bad credentials, with a Bearer challenge.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class Signup(PublicView):
    @extend_schema(
        request=SignupInputSerializer,
        responses={
            201: SignupOutputSerializer,
            400: OpenApiResponse(description="Invalid input or weak password"),
            409: OpenApiResponse(description="Username taken"),
            429: OpenApiResponse(description="Too many sign-ups from this address (Retry-After)"),
        },
        summary="Sign up as a worker or a client (a client names its organization)",
    )
    @carries_secret
    def post(self, request: Request) -> Response:
        wait = throttle.signup_wait(request)
        if wait:
            raise LockedOut(wait=wait, detail=throttle.signup_wait_message(wait), code="signup_throttled")
        data = validated(SignupInputSerializer, request.data)
        # One transaction: an account is never left without the token its response promised.
        with transaction.atomic():
            user = services.user_signup(
                username=data["username"],
                password=data["password"],
                email=data["email"],
                role=data["role"],
                organization_name=data["organization"],
            )
            _, secret = services.token_create(user=user, name="signup")
        return Response({"user": present_user(user), "token": secret}, status=status.HTTP_201_CREATED)


class TokenObtain(PublicView):
    @extend_schema(
        request=TokenObtainInputSerializer,
        responses={
            201: NewTokenOutputSerializer,
            401: OpenApiResponse(description="Invalid username or password"),
            429: OpenApiResponse(description="Too many failed log-ins for this account, from this address or any, or from this address"),
        },
        summary="Exchange a username and password for a new API token",
    )
    @carries_secret
    def post(self, request: Request) -> Response:
        data = validated(TokenObtainInputSerializer, request.data)
        # authenticate() hashes a dummy password for unknown users too, so timing does not
        # reveal which usernames exist; the message names neither part either.
        # The throttle (django-axes) counts the failure, or refuses at once when locked out.
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            if throttle.login_locked_out(request, username=data["username"]):
                raise LockedOut(wait=throttle.lockout_seconds(request),
                                detail=throttle.lockout_message(request))
            raise exceptions.AuthenticationFailed("Invalid username or password.")
        token, secret = services.token_create(user=user, name=data["name"], expires_at=data["expires_at"])
        return Response(present_token(token, secret), status=status.HTTP_201_CREATED)


class Me(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=UserOutputSerializer, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(present_user(request.user))


class MeTokens(APIView):
    permission_classes = [IsAuthenticated]

    @extend_list_schema(
        TokenOutputSerializer, operation_id="v1_me_tokens_list", summary="Your API tokens (never their secrets)"
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        tokens = selectors.api_tokens_of(user=request.user)
        page = paginator.paginate_queryset(tokens, request, view=self)
        return paginator.get_paginated_response([present_token(t) for t in page or []])

    @extend_schema(
        request=TokenCreateInputSerializer,
        responses={201: NewTokenOutputSerializer},
        summary="Create an API token; the secret is in this response only",
    )
    @carries_secret
    def post(self, request: Request) -> Response:
        data = validated(TokenCreateInputSerializer, request.data)
        token, secret = services.token_create(user=request.user, name=data["name"],
                                              expires_at=data["expires_at"])
        return Response(present_token(token, secret), status=status.HTTP_201_CREATED)


class MeTokenDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None, 404: OpenApiResponse(description="No such token of yours")},
        summary="Revoke one of your API tokens",
    )
    def delete(self, request: Request, token_id: int) -> Response:
        services.token_revoke(user=request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


_USERNAME_TAKEN = OpenApiResponse(description="conflict: that username is taken (by anyone, in any organization)")


class Admins(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(request=NewUserInputSerializer, responses={201: UserOutputSerializer, 409: _USERNAME_TAKEN},
                   summary="Create an admin (admins only)")
    def post(self, request: Request) -> Response:
        data = validated(NewUserInputSerializer, request.data)
        user = services.admin_create(creator=request.user, **data)
        return Response(present_user(user), status=status.HTTP_201_CREATED)


class OrganizationMembers(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_list_schema(UserOutputSerializer, operation_id="v1_organization_members_list", summary="Members of your organization")
    def get(self, request: Request) -> Response:
        members = selectors.organization_members_of(user=request.user).select_related("organization")
        paginator = Pagination()
        page = paginator.paginate_queryset(members, request, view=self)
        return paginator.get_paginated_response([present_user(u) for u in page or []])

    @extend_schema(request=NewUserInputSerializer, responses={201: UserOutputSerializer, 409: _USERNAME_TAKEN},
                   summary="Add a colleague to your organization")
    def post(self, request: Request) -> Response:
        data = validated(NewUserInputSerializer, request.data)
        user = services.client_invite(inviter=request.user, **data)
        return Response(present_user(user), status=status.HTTP_201_CREATED)
