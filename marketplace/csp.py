"""The Content-Security-Policy header (django-csp; the policy is in settings, "Security").

CSP's 'self' in connect-src covers same-host WebSockets only in CSP Level 3 browsers, so each
response also names the live socket's own origin (ws://host or wss://host): the portal's live
updates keep working everywhere, and no page can open a socket to any other host.

The header's text then depends on the settings, the host and the scheme only, unless a view
asked for a nonce or changed the policy of its response: django-csp built it anew for every
response (about 4 % of an API submit's CPU, BENCHMARKS.md "Server CPU per judgment"), so a plain
response gets the text built for the first of its host and scheme.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts

# Response attributes through which a view changes or drops its policy (csp.decorators).
_PER_RESPONSE = tuple(f"_csp_{kind}{ro}" for kind in ("exempt", "config", "update", "replace") for ro in ("", "_ro"))
_BUILT_MAX = 64  # hosts are few (ALLOWED_HOSTS); forgotten whole past this


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # (host, secure) -> (the settings' two policies it was built from, header, report-only header)
        self._built: dict[tuple[str, bool], tuple[object, object, str | None, str | None]] = {}

    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase,
                         report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        try:
            host = request.get_host()
        except DisallowedHost:  # the 400 for a bad Host header gets the policy without it
            return parts
        socket_origin = f"{'wss' if request.is_secure() else 'ws'}://{host}"
        parts.update = {**(parts.update or {}), "connect-src": [socket_origin]}
        return parts

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        key = self._plain_key(request, response)
        if key is None:
            return super().process_response(request, response)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        policy_ro = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        built = self._built.get(key)
        if built is None or built[0] is not policy or built[1] is not policy_ro:  # new, or settings changed
            response = super().process_response(request, response)
            if len(self._built) >= _BUILT_MAX:
                self._built.clear()
            self._built[key] = (policy, policy_ro, response.get(HEADER), response.get(HEADER_REPORT_ONLY))
            return response
        _, _, header, header_ro = built
        if header:
            response[HEADER] = header
        if header_ro:
            response[HEADER_REPORT_ONLY] = header_ro
        # As the library does: a nonce asked for from now on could not reach the header; fail loudly.
        setattr(request, "csp_nonce", CheckableLazyObject(self._csp_nonce_post_response))
        return response

    @staticmethod
    def _plain_key(request: HttpRequest, response: HttpResponseBase) -> tuple[str, bool] | None:
        """(host, secure) when the header is the settings' policy for them alone, else None."""
        if getattr(request, "_csp_nonce", None) is not None or HEADER in response or HEADER_REPORT_ONLY in response:
            return None
        if settings.DEBUG or any(getattr(response, name, None) is not None for name in _PER_RESPONSE):
            return None  # DEBUG: the library leaves some error pages alone
        for name in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"):
            if (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES"):
                return None  # the header would depend on the path
        try:
            return request.get_host(), request.is_secure()
        except DisallowedHost:
            return None
