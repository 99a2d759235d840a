import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
application = get_wsgi_application()

# The release schedule's embedded timer starts with this server's first request (billing/tasks.py).
from django.core.signals import request_started  # noqa: E402

from marketplace.billing.tasks import release_timer_on_request  # noqa: E402

request_started.connect(release_timer_on_request, dispatch_uid="billing-release-timer")
