"""DRF permission classes by role. Object scoping is the selectors' job, not these."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class IsClient(BasePermission):
    message = "Only client accounts can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_client)


class IsWorker(BasePermission):
    message = "Only worker accounts can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_worker)


class IsAdmin(BasePermission):
    message = "Only admins can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class IsClientOrAdmin(BasePermission):
    message = "Only client or admin accounts can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_client or user.is_admin))
