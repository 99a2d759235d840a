"""A read-only Django admin for records that only services write.

Suspensions, quality events, appeals, expert reviews, collusion flags, skills and models are
written by services that keep their invariants (compare-and-set, the ledger, the lock order).
The Django admin lets staff find and read them for support; changing one by hand would bypass
those services, so these admins neither add, change nor delete.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class RecordAdmin(admin.ModelAdmin):
    """Every field shown read-only; no add, no delete (see the module docstring)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
