from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """Live updates: no models; an app so that it hears, at start-up, when a user's way in changes."""

    name = "marketplace.realtime"
    label = "realtime"

    def ready(self) -> None:
        # A password change, deactivation or move closes the user's open sockets, which are
        # checked only when they connect (accounts/access.py says why it is wired this way).
        from marketplace.accounts.access import access_listener_register
        from marketplace.realtime.events import session_changed

        access_listener_register(session_changed)
