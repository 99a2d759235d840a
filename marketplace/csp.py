"""The Content-Security-Policy header (django-csp; the policy is in settings, "Security").

CSP's 'self' in connect-src covers same-host WebSockets only in CSP Level 3 browsers, so each
response also names the live socket's own origin (ws://host or wss://host): the portal's live
updates keep working everywhere, and no page can open a socket to any other host.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase

from csp.middleware import CSPMiddleware, PolicyParts


class ContentSecurityPolicyMiddleware(CSPMiddleware):
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
