"""Quorum settings: one file, driven by environment variables (README, "Configuration").

The embedded default (no variables set) is an SQLite file, an in-memory channel layer and
tasks run in-process, so the marketplace runs on a laptop with nothing else installed.
Production sets DATABASE_URL (PostgreSQL), REDIS_URL and SECRET_KEY.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from marketplace.env import env_bool, env_int, env_list, env_str
from marketplace.settings_db import database_from_env
from marketplace.settings_logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (use a long random string; "
            "for local development set DEBUG=1 instead)"
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105
elif len(SECRET_KEY) < 16:
    raise ImproperlyConfigured("SECRET_KEY must be at least 16 characters long")
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    # The same bar as `check --deploy` (security.W009): sessions, reset links and export
    # pseudonyms are only as unguessable as this key.
    raise ImproperlyConfigured(
        "SECRET_KEY must be at least 50 characters (with 5 or more different ones) when DEBUG is "
        "off; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

# Keys retired by a rotation, still accepted: sessions and reset links signed with them stay
# valid, and webhook secrets sealed under them still open (notifications/sealing.py) until
# `manage.py webhook_secrets_reseal` seals them under the new key.
SECRET_KEY_FALLBACKS = [key.strip() for key in (env_str("SECRET_KEY_FALLBACKS") or "").split(",") if key.strip()]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])


DATABASES = {"default": database_from_env(VAR_DIR)}
# Threads each ASGI server process runs views in (marketplace/httpthreads.py): by default as many
# as its pool has connections, so a request that got a thread never waits for a connection.
QUORUM_WEB_THREADS = env_int("QUORUM_WEB_THREADS", env_int("QUORUM_DB_POOL_MAX", 0, minimum=0) or 20, minimum=1)
# Answers per client connection before the web process closes it (0: never); see httpthreads.py.
QUORUM_CONNECTION_REQUESTS = env_int("QUORUM_CONNECTION_REQUESTS", 100, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

REDIS_URL = env_str("REDIS_URL") or ""
if REDIS_URL and urlparse(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured(f"REDIS_URL must start with redis:// or rediss://; got {REDIS_URL!r}")


def redis_channel_layer(url: str, *, prefix: str) -> dict[str, object]:
    """The channel layer on Redis: its own key prefix (deployments may share a Redis), a slow
    socket's queue capped, a message unread for 30 s dropped rather than delivered stale.
    Each socket awaits its next event with a blocking pop Redis ends empty after 5 s
    (channels-redis), and redis-py's default read timeout is also 5 s: a page quiet for 5 s lost
    that race and its socket died ("Timeout reading from"). 30 s leaves a busy machine room and
    still ends a send to a hung Redis (logged, never raised: realtime/transport.py)."""
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": url, "socket_timeout": 30}], "prefix": prefix,
                   "capacity": 500, "expiry": 30},
    }


# Each open socket adds itself to its groups again this often: the channel layer forgets a member
# after a day (channels' group_expiry) and all of them when Redis restarts (0: never).
QUORUM_WS_REJOIN_SECONDS = env_int("QUORUM_WS_REJOIN_SECONDS", 300, minimum=0)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": redis_channel_layer(REDIS_URL, prefix=env_str("QUORUM_CHANNELS_PREFIX", "quorum") or "quorum"),
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis host gone silent (packets dropped) fails a cache call in seconds, not after
            # the system's connect timeout of minutes: the submit's triggers skip it (cachesafe.py).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "marketplace.accounts",
    "marketplace.jobs",
    "marketplace.labeling",
    "marketplace.quality",
    "marketplace.billing",
    "marketplace.notifications",
    "marketplace.realtime",
    "marketplace.demo",
    # The layers above the apps (README, "Architecture"): the REST API and the portal's pages.
    "marketplace.api",
    "marketplace.web",
]

MIDDLEWARE = [
    # Outermost: every line logged for a request, and its answer, carry its X-Request-ID.
    "marketplace.requestlog.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one: whatever answers an /api/ request with a 4xx, it is the API's error body.
    "marketplace.api.middleware.ApiErrorShapeMiddleware",
    # /healthz answered here, before anything reads the host: load balancers probe by address.
    "marketplace.health.HealthzMiddleware",
    # Static files straight from the ASGI process (daphne has no static handler of its own).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A NUL in a form field is a 400 before any view (PostgreSQL text cannot hold it).
    "marketplace.formnul.FormNulRefusedMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The database down (a line logged), or every pooled connection in use: 503, not 500.
    "marketplace.dbdown.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/portal/"
LOGOUT_REDIRECT_URL = "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.web.public.site.portal_nav",
            ]
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a check: on every password change (pages, admin, manage.py changepassword) it revokes
    # the account's API tokens and closes its open WebSockets.
    {"NAME": "marketplace.accounts.passwords.SignInsEndWithPassword"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Without `collectstatic` (demo, tests) WhiteNoise finds files where Django's finders do.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Mail (password resets, job notifications: marketplace/notifications/mail.py): sent by SMTP when
# EMAIL_HOST names a server; else printed whole with DEBUG on (make demo), and with DEBUG off only
# logged as not sent, recipients and subject: a printed reset link in a kept log is a takeover.
EMAIL_HOST = env_str("EMAIL_HOST", "") or ""
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend" if DEBUG
    else "marketplace.mailconsole.UnsentMailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)  # STARTTLS on EMAIL_PORT (587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # TLS from the first byte (port 465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL (465 is SSL, 587 is TLS)")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)  # seconds; a stuck server must not hang a sweep
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Quorum <noreply@quorum.local>") or ""
# Where people reach this deployment, for links in e-mails (no trailing slash).
QUORUM_SITE_URL = (env_str("QUORUM_SITE_URL", "http://localhost:8000") or "").rstrip("/")
if urlparse(QUORUM_SITE_URL).scheme not in {"http", "https"} or not urlparse(QUORUM_SITE_URL).netloc:
    raise ImproperlyConfigured(f"QUORUM_SITE_URL must be an http(s) URL such as https://quorum.example.com; got {QUORUM_SITE_URL!r}")

# Webhooks (README, "Webhooks"): a failed delivery is tried again after BASE, 2×BASE, 4×BASE...
# seconds, MAX_ATTEMPTS times in all; the sweep (every SWEEP seconds, 0: off) sends what is due.
QUORUM_WEBHOOK_MAX_ATTEMPTS = env_int("QUORUM_WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
QUORUM_WEBHOOK_RETRY_BASE_SECONDS = env_int("QUORUM_WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=1)
QUORUM_NOTIFICATIONS_SWEEP_SECONDS = env_int("QUORUM_NOTIFICATIONS_SWEEP_SECONDS", 10, minimum=0)
# Hosts (names or addresses, comma-separated) a webhook may reach although they are not public,
# over http too: tests' local receiver, an on-premises one. Empty by default: never loosen it
# on a shared deployment, it lets clients make Quorum call those hosts.
QUORUM_WEBHOOK_ALLOW_HOSTS = (
    env_list("QUORUM_WEBHOOK_ALLOW_HOSTS", []) if (env_str("QUORUM_WEBHOOK_ALLOW_HOSTS") or "").strip() else []
)

# Outside DEBUG, cookies only travel over HTTPS.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Uploads: an import is parsed in memory-bounded chunks; this caps one request body.
QUORUM_MAX_IMPORT_BYTES = env_int("QUORUM_MAX_IMPORT_BYTES", 200 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = QUORUM_MAX_IMPORT_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Background tasks (consensus runs): "inline" runs them in the request after commit, "thread" in
# a background thread of this process (the embedded default), "celery" on Celery workers that
# share a Redis broker (production: workers scale across machines).
QUORUM_TASKS = env_str("QUORUM_TASKS", "thread") or "thread"
if QUORUM_TASKS not in {"inline", "thread", "celery"}:
    raise ImproperlyConfigured(f"QUORUM_TASKS must be inline, thread or celery; got {QUORUM_TASKS!r}")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
if QUORUM_TASKS == "celery" and not CELERY_BROKER_URL:
    raise ImproperlyConfigured("QUORUM_TASKS=celery needs CELERY_BROKER_URL or REDIS_URL (a Redis broker)")
CELERY_TASK_IGNORE_RESULT = True  # runs are stored in the database; no result backend needed
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-run leaves the message for another
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # runs are long: do not hoard messages
# Three queues, each with its own worker in the Procfile, so no task waits behind another kind:
# the short tasks (periodic ticks, webhooks, e-mails) on Celery's default queue; the jobs' own
# consensus runs on "consensus"; the runs people ask for (any method, up to
# QUORUM_CONSENSUS_MAX_SECONDS each) on "consensus-asked". With one worker for all, a fit that took
# minutes held back the pay posting due every few seconds, webhooks and every job's labels.
CELERY_TASK_DEFAULT_QUEUE = "celery"
QUORUM_CONSENSUS_QUEUE = "consensus"
QUORUM_CONSENSUS_ASKED_QUEUE = "consensus-asked"
# While a job runs, consensus runs after its first EVERY_JUDGMENTS judgments and again each time
# they double (quality/tasks.py), or EVERY_MINUTES after the last run once new judgments came
# in (0 turns either rule off).
QUORUM_CONSENSUS_EVERY_JUDGMENTS = env_int("QUORUM_CONSENSUS_EVERY_JUDGMENTS", 100, minimum=0)
QUORUM_CONSENSUS_EVERY_MINUTES = env_int("QUORUM_CONSENSUS_EVERY_MINUTES", 15, minimum=0)
# A running consensus run beats every HEARTBEAT seconds; the sweep (every SWEEP seconds, 0: off)
# fails a run whose last beat is older than STALE seconds, its process dead, and retries the
# completion run of completed jobs that have none that succeeded (quality/heartbeat.py).
QUORUM_CONSENSUS_HEARTBEAT_SECONDS = env_int("QUORUM_CONSENSUS_HEARTBEAT_SECONDS", 30, minimum=1)
QUORUM_CONSENSUS_STALE_SECONDS = env_int("QUORUM_CONSENSUS_STALE_SECONDS", 180, minimum=1)
if QUORUM_CONSENSUS_STALE_SECONDS < 3 * QUORUM_CONSENSUS_HEARTBEAT_SECONDS:
    # Two missed beats (a slow database, a long GC pause) must not make a live run look dead.
    raise ImproperlyConfigured(
        "QUORUM_CONSENSUS_STALE_SECONDS must be at least 3 × QUORUM_CONSENSUS_HEARTBEAT_SECONDS "
        f"({3 * QUORUM_CONSENSUS_HEARTBEAT_SECONDS}); got {QUORUM_CONSENSUS_STALE_SECONDS}"
    )
QUORUM_CONSENSUS_SWEEP_SECONDS = env_int("QUORUM_CONSENSUS_SWEEP_SECONDS", 60, minimum=0)
# A run a person asks for is refused when its method could take longer than this (consensus/cost.py).
QUORUM_CONSENSUS_MAX_SECONDS = env_int("QUORUM_CONSENSUS_MAX_SECONDS", 600, minimum=1)
# Every this many seconds (0: off) open jobs whose every item is complete are completed and
# settled: the safety net behind the submit's own after-commit check (billing/settlement.py).
QUORUM_JOB_COMPLETION_SWEEP_SECONDS = env_int("QUORUM_JOB_COMPLETION_SWEEP_SECONDS", 60, minimum=0)
# How often jobs with many workers' tally rows have them folded into one (jobs/tallies.py), so a
# submit's sum of the job's counts reads the workers active lately, not every worker it ever had.
QUORUM_TALLY_FOLD_SECONDS = env_int("QUORUM_TALLY_FOLD_SECONDS", 300, minimum=0)

# The marketplace's own rules (pay, holds, undo, appeals, pre-labels, expert reviews): a module of
# their own so this file stays readable; each is read from the environment there.
from marketplace.settings_rules import *  # noqa: E402, F403

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.common.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "marketplace.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "marketplace.api.schema.AutoSchema",
    # JSON only: the views read typed fields (numbers, lists, objects), which a form cannot carry,
    # and the schema offers what the parsers take. The item imports add multipart (items.py).
    "DEFAULT_PARSER_CLASSES": ["marketplace.parsing.StrictJSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": "Crowdsourced labeling with consensus scoring. Authenticate with "
    "`Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets named after what they are, where another one shares the field name ("status").
    "ENUM_NAME_OVERRIDES": {
        "WebhookDeliveryStatusEnum": "marketplace.notifications.models.DeliveryStatus",
        "WebhookEventEnum": "marketplace.notifications.models.EventType",
    },
    # A row's id in a path (marketplace/pathids.py): an integer, as Django's <int:> was described.
    # Not its bounds: with them schemathesis's negative cases reported a 200 for job 43 as "violates
    # minimum, maximum" (a schema-violating request accepted); an id out of range is a 404 anyway.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer"}},
}

# Any case, as gunicorn.conf.py reads the same variable ("info"); anything else stops start-up
# naming it, not with logging's "Unable to configure root logger".
LOG_LEVEL = (env_str("LOG_LEVEL", "INFO") or "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got {LOG_LEVEL!r}")
# marketplace/settings_logging.py: the line format, quiet Celery ticks, the access log
LOGGING = logging_config(LOG_LEVEL, access_log=env_str("ACCESS_LOG", "") or "")


# --- Security (README "Deploying") ---------------------------------------------------------------
# Log-in throttling, the Content-Security-Policy, HSTS and TLS behind a reverse proxy. Kept in one
# block on purpose: the rest of this file is shared by every area.
# drf_spectacular_sidecar: the API docs' Swagger UI served from here, not a CDN (see the policy).
INSTALLED_APPS += ["axes", "drf_spectacular_sidecar"]
MIDDLEWARE += [
    "marketplace.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a log-in refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]
# The axes backend goes first: a locked-out account and address, account or address is refused
# before any password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed log-ins (page, token API, Django admin, the change page's current password) are counted
# per account from one address, per account anywhere and per address, each with its own limit
# (why: marketplace/accounts/lockout.py). Reaching one locks that pair, account or address for the
# cool-off; failures while locked out are not counted, so they cannot keep a lock going.
AXES_HANDLER = "marketplace.accounts.lockout.LoginLockoutHandler"
AXES_FAILURE_LIMIT = env_int("QUORUM_LOGIN_FAILURE_LIMIT", 10, minimum=1)
QUORUM_LOGIN_ACCOUNT_FAILURE_LIMIT = env_int("QUORUM_LOGIN_ACCOUNT_FAILURE_LIMIT", 30, minimum=0)
QUORUM_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("QUORUM_LOGIN_ADDRESS_FAILURE_LIMIT", 100, minimum=0)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("QUORUM_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The address of a request as every throttle counts it (an IPv6 client by its /64).
AXES_CLIENT_IP_CALLABLE = "marketplace.accounts.throttle.client_ip_address"
AXES_LOCKOUT_CALLABLE = "marketplace.web.public.accounts.locked_out"  # a 429 page that says why
# Axes keeps each failure's form fields; it masks "password" itself, these are the change page's.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "old_password", "new_password1", "new_password2"]
# Sign-up attempts (page and API, refused ones included) per client address per hour (0: no limit).
QUORUM_SIGNUPS_PER_HOUR = env_int("QUORUM_SIGNUPS_PER_HOUR", 20, minimum=0)
# Password-reset requests per hour, per e-mail named and per client address (0: no limit); beyond
# either one the page answers 429 and sends no mail.
QUORUM_PASSWORD_RESETS_PER_EMAIL = env_int("QUORUM_PASSWORD_RESETS_PER_EMAIL", 3, minimum=0)
QUORUM_PASSWORD_RESETS_PER_ADDRESS = env_int("QUORUM_PASSWORD_RESETS_PER_ADDRESS", 20, minimum=0)
# Reverse proxies in front of daphne that append the client's address to X-Forwarded-For (0: none,
# REMOTE_ADDR is the client). Too high lets a client choose its own address; too low throttles the proxy.
QUORUM_PROXY_COUNT = env_int("QUORUM_PROXY_COUNT", 0, minimum=0)
# The proxy terminates TLS and says so in X-Forwarded-Proto (it must overwrite any client-sent value).
if env_bool("QUORUM_PROXY_TLS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
# HSTS only when DEBUG is off (browsers remember it: a development host must never send it).
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Content-Security-Policy (django-csp): scripts from this site only (no inline script, no eval),
# WebSockets to this host only (marketplace/csp.py adds ws:// or wss:// for the request's host).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Inline style attributes stay allowed: progress bars set their width from server-computed
        # numbers, and the Django admin and API docs use them; scripts are what the policy must stop.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:", "http:"],  # item pictures come from any web URL
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SPECTACULAR_SETTINGS.update(SWAGGER_UI_DIST="SIDECAR", SWAGGER_UI_FAVICON_HREF="SIDECAR")
