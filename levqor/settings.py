"""Settings for Levqor orders.

Every value comes from an environment variable with a development default, so
the project runs on SQLite with no keys and no network, and production changes
only its environment. docs/architecture.md and the README list the variables.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LEVQOR_VAR_DIR", str(BASE_DIR / "var")))

# "production" turns on the checks that must hold before real money flows.
ENVIRONMENT = env_str("LEVQOR_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", False)

STRIPE_TEST_SECRET_KEY = env_str("STRIPE_TEST_SECRET_KEY")
STRIPE_LIVE_SECRET_KEY = env_str("STRIPE_LIVE_SECRET_KEY")
STRIPE_LIVE_MODE = env_bool("STRIPE_LIVE_MODE", False)

# With DEBUG on, dj-stripe 2.11 lets an X-Djstripe-Webhook-Secret request header
# replace the endpoint's secret, so a production process must never run with it.
if DEBUG and (ENVIRONMENT == "production" or STRIPE_LIVE_SECRET_KEY or STRIPE_LIVE_MODE):
    raise ImproperlyConfigured(
        "DEBUG must be off in production or with live Stripe keys: unset DEBUG."
    )

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is missing: set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-development-key-used-only-with-DEBUG"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djstripe",
    "anymail",
    "django_tasks",
    "django_tasks_db",
    "levqor",
    "orders",
    "onboarding",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "levqor.urls"
WSGI_APPLICATION = "levqor.wsgi.application"

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
            ],
        },
    },
]


# Database

# SQLite holds one write lock for the whole database. Immediate transactions
# take it at BEGIN, so two writers queue on the busy timeout instead of failing
# with "database is locked" when a read lock cannot be upgraded; WAL lets
# readers continue while a writer holds it.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30),
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Persistent connections with a health check on reuse replace the earlier
    # system's reconnect hacks: a connection the server closed is noticed at
    # the start of the next request and replaced.
    default_database = dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("CONN_MAX_AGE", 600),
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS", True),
    )
    # PgBouncer in transaction mode hands each transaction to any server
    # connection, so a cursor declared in one transaction is gone in the next.
    default_database["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DISABLE_SERVER_SIDE_CURSORS", False)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    default_database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "levqor.sqlite3",
    }

if default_database["ENGINE"] == "django.db.backends.sqlite3":
    default_database["OPTIONS"] = {**SQLITE_OPTIONS, **default_database.get("OPTIONS", {})}
    # pytest-django creates the test database here when set, so a server
    # process started by a test can open the same file.
    if env_str("LEVQOR_TEST_DATABASE"):
        default_database["TEST"] = {"NAME": env_str("LEVQOR_TEST_DATABASE")}

DATABASES = {"default": default_database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Authentication, language and time

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# WhiteNoise warns at every start when this folder is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Production serves hashed, compressed files that collectstatic wrote, with
# far-future cache headers; templates then need the manifest, so a production
# start without collectstatic fails on the first admin page. Elsewhere WhiteNoise
# serves the admin's files straight from the installed apps, so the demo works
# without a collectstatic step.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", PRODUCTION)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST


# HTTPS. Production defaults to the settings `manage.py check --deploy` asks
# for; each can be turned off through its variable (for example behind a proxy
# that already redirects to HTTPS).

SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Load balancers probe health over plain HTTP and do not follow redirects.
SECURE_REDIRECT_EXEMPT = [r"^api/health/", r"^api/webhooks/stripe/health$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)


# Stripe and dj-stripe

# A syntactically valid test key for the embedded default. dj-stripe rejects
# any key that does not look real, and STRIPE_API_BASE below keeps every call
# made with it on this machine.
LOCAL_STRIPE_TEST_KEY = "sk_test_levqorLocalDevelopmentOnly000000"
STRIPE_KEYS_CONFIGURED = bool(STRIPE_TEST_SECRET_KEY or STRIPE_LIVE_SECRET_KEY)
if not STRIPE_KEYS_CONFIGURED:
    STRIPE_TEST_SECRET_KEY = LOCAL_STRIPE_TEST_KEY

# dj-stripe 2.11 models follow this API version; the webhook endpoint is pinned
# to it too (setup_webhook_endpoint), so events arrive in the shape we parse.
STRIPE_API_VERSION = "2026-05-27.dahlia"
# Without real keys, calls go to a closed loopback port rather than to Stripe.
STRIPE_API_BASE = env_str(
    "STRIPE_API_BASE",
    "https://api.stripe.com" if STRIPE_KEYS_CONFIGURED else "http://127.0.0.1:9",
)
STRIPE_ACCOUNT_ID = env_str("STRIPE_ACCOUNT_ID", "acct_levqor_local")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_WEBHOOK_ENDPOINT_ID = env_str("STRIPE_WEBHOOK_ENDPOINT_ID", "we_levqor_local")

# Price ids of the plan catalogue, one variable per plan, for example
# STRIPE_PRICE_DFY_STARTER or STRIPE_PRICE_SUBSCRIPTION_GROWTH_YEARLY.
STRIPE_PRICE_IDS = {
    name.removeprefix("STRIPE_PRICE_"): value.strip()
    for name, value in os.environ.items()
    if name.startswith("STRIPE_PRICE_") and value.strip()
}

# The worker refreshes dj-stripe's Session, Customer and PaymentIntent rows of
# each paid order from the Stripe API. Off by default without Stripe keys or
# an explicit STRIPE_API_BASE, because every call would fail.
STRIPE_MIRROR_SYNC = env_bool("STRIPE_MIRROR_SYNC", STRIPE_KEYS_CONFIGURED or "STRIPE_API_BASE" in os.environ)

DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
DJSTRIPE_USE_NATIVE_JSONFIELD = True


# Email

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Levqor <orders@levqor.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
RESEND_API_KEY = env_str("RESEND_API_KEY")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# Requests per second that all workers together send to Resend: its default
# limit per team (https://resend.com/docs/api-reference/rate-limit). Raise it
# when Resend raises the team's limit; 0 turns the pacing off.
RESEND_RATE_LIMIT_PER_SECOND = env_float("RESEND_RATE_LIMIT_PER_SECOND", 2)
# RESEND_SIGNING_SECRET is the Svix secret (whsec_...) of the Resend tracking
# webhook. Without it the /anymail/ URLs are not served at all, because
# Anymail would then accept unsigned tracking events from anyone.
RESEND_SIGNING_SECRET = env_str("RESEND_SIGNING_SECRET")
ANYMAIL = {
    "RESEND_API_KEY": RESEND_API_KEY,
    "RESEND_API_URL": env_str("RESEND_API_URL", "https://api.resend.com/"),
    "RESEND_SIGNING_SECRET": RESEND_SIGNING_SECRET or None,
    "REQUESTS_TIMEOUT": EMAIL_TIMEOUT,
}
if RESEND_API_KEY:
    # Anymail's Resend backend plus an Idempotency-Key header per outbox row.
    EMAIL_BACKEND = "onboarding.resend_backend.EmailBackend"
else:
    # Without a provider key, emails are written to files so the demo can
    # show them and nothing leaves the machine.
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "sent-emails"


# Background tasks

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
    },
}


# Onboarding: staff alerts, outbox retries, intake links

TELEGRAM_BOT_TOKEN = env_str("TELEGRAM_BOT_TOKEN")
TELEGRAM_CHAT_ID = env_str("TELEGRAM_CHAT_ID")
TELEGRAM_API_BASE = env_str("TELEGRAM_API_BASE", "https://api.telegram.org").rstrip("/")
TELEGRAM_TIMEOUT = env_float("TELEGRAM_TIMEOUT", 10)
STAFF_ALERT_EMAILS = env_list("STAFF_ALERT_EMAILS")

# Exponential backoff with jitter: attempt n waits between half and all of
# base * 2**(n-1) seconds, at most OUTBOX_RETRY_MAX_SECONDS, and never less
# than the provider's retry-after.
OUTBOX_RETRY_BASE_SECONDS = env_float("OUTBOX_RETRY_BASE_SECONDS", 30)
OUTBOX_RETRY_MAX_SECONDS = env_float("OUTBOX_RETRY_MAX_SECONDS", 3600)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
# A row left in "sending" this long belongs to a worker that died mid-send.
# It must exceed the longest send: EMAIL_TIMEOUT or TELEGRAM_TIMEOUT, plus
# the Stripe client's own retries for the mirror sync.
OUTBOX_STALE_SECONDS = env_float("OUTBOX_STALE_SECONDS", 600)
# The sweeper enqueues a due row again when no task picked it up this long
# after it was due.
OUTBOX_SWEEP_GRACE_SECONDS = env_float("OUTBOX_SWEEP_GRACE_SECONDS", 120)

INTAKE_LINK_MAX_AGE_DAYS = env_int("INTAKE_LINK_MAX_AGE_DAYS", 30)
INTAKE_REMINDER_HOURS = env_float("INTAKE_REMINDER_HOURS", 48)


# Logging

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# "json" writes one JSON object per line for log collectors; "plain" is for people.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"Invalid LOG_FORMAT {LOG_FORMAT!r}: use plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "expected_stripe_rejections": {
            "()": "levqor.logfilters.DropDjstripeSignatureNoise",
        },
    },
    "formatters": {
        "plain": {
            "()": "levqor.logformat.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {
            "()": "levqor.logformat.JsonFormatter",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "djstripe": {"level": "INFO"},
        # Logger filters apply only to records logged on that logger itself,
        # which is where dj-stripe logs these two.
        "djstripe.models.base": {"filters": ["expected_stripe_rejections"]},
        "djstripe.views": {"filters": ["expected_stripe_rejections"]},
        "stripe": {"level": "WARNING"},
    },
}
