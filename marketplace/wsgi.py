import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
application = get_wsgi_application()

# The periodic jobs' embedded timers start with this server's first request (marketplace/periodic.py).
from django.core.signals import request_started  # noqa: E402

from marketplace.periodic import timers_on_request  # noqa: E402

request_started.connect(timers_on_request, dispatch_uid="periodic-timers")
