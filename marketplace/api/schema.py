"""The OpenAPI schema tells the truth about errors.

Every operation lists the error answers it can give, each with the one error body of
`marketplace.api.exceptions` ({"error": {"code", "message", "details"}}). A view documents only its
own domain errors (a 402, a 409) with a description; the answers every view shares (bad input,
no credentials, wrong role, an id that is not yours) are added here from what the view declares:
its request body and parameters, its authentication and its permissions.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, AllowAny

from marketplace.api.permissions import StaffLookReadOnly

# The shape `marketplace.errors.error_body` builds.
ERROR = inline_serializer("Error", {
    "error": inline_serializer("ErrorDetail", {
        "code": serializers.CharField(help_text="Stable, for programs: invalid, not_found, conflict..."),
        "message": serializers.CharField(help_text="For people: what went wrong and what to do"),
        "details": serializers.DictField(help_text=(
            "Always an object. A key naming a body field (nested ones as a dotted path, events.1), a "
            "query parameter or a header is what is at fault; its value is a reason code (\"required\") "
            "or a list of messages. Other keys carry the figures behind the error (allowed, line...)"
        )),
    }),
})

_SHARED_ANSWERS = {
    400: "invalid: the message names the field at fault (unknown fields are refused too)",
    401: "not_authenticated or authentication_failed: no credentials, or a bad or revoked token",
    403: "permission_denied: your role may not do this",
    404: "not_found: no such object for you (another organization's ids look absent), or a page past the last",
    415: "unsupported_media_type: the body's Content-Type is not one this operation reads",
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                parameter["schema"] = _path_schema(parameter["schema"])
            elif parameter["in"] == "query" and not parameter.get("required"):
                # Across the API an empty optional parameter (`?status=`) reads as absent.
                parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        for code in self._shared_error_codes(operation):
            responses.setdefault(str(code), {"description": self._shared_answer(code)})
        body = {"application/json": {"schema": self.resolve_serializer(ERROR, "response").ref}}
        for code, response in responses.items():
            if code.startswith("4") and "content" not in response:
                response["content"] = body
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _shared_answer(self, code: int) -> str:
        if code == 403 and StaffLookReadOnly in self.view.permission_classes and self.method not in SAFE_METHODS:
            return f"{_SHARED_ANSWERS[403]}, or you are an admin and the job is a client's (staff views are read-only)"
        return _SHARED_ANSWERS[code]

    def _shared_error_codes(self, operation: dict[str, Any]) -> list[int]:
        located = {parameter["in"] for parameter in operation.get("parameters", [])}
        has_body = "requestBody" in operation
        codes = []
        if has_body or "query" in located or "header" in located:
            codes.append(400)
        if self.view.authentication_classes:  # sign-up and token authenticate nobody
            codes.append(401)
        if any(permission is not AllowAny for permission in self.view.permission_classes):
            codes.append(403)
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        if "path" in located or "page" in names:
            codes.append(404)
        if has_body:
            codes.append(415)
        return codes


_DIGITS = "^[0-9]+$"
_CHOICE = re.compile(r"^\^([a-z_]+(?:\|[a-z_]+)+)\$$")


def _path_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """What a `re_path` group really accepts: drf-spectacular copies the group's regex, which
    reads wrong for an alternation (`^publish|cancel$` is "starts with publish or ends with cancel")."""
    pattern = schema.get("pattern", "")
    if pattern == _DIGITS:
        return {"type": "integer", "minimum": 0}
    choice = _CHOICE.match(pattern)
    if choice:
        return {"type": "string", "enum": choice.group(1).split("|")}
    return schema
