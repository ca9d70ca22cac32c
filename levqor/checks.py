"""System checks (ids levqor.E001 and up): run by manage.py check, migrate and the demo."""

import re
from email.utils import parseaddr

from django.conf import settings
from django.core import checks
from django.db import DatabaseError


@checks.register("levqor")
def check_webhook_secret(app_configs=None, **kwargs):
    """Report webhook endpoints without a signing secret, because every delivery to them fails."""
    from djstripe.models import WebhookEndpoint

    messages = []
    if settings.ENVIRONMENT == "production" and not settings.STRIPE_WEBHOOK_SECRET:
        messages.append(
            checks.Error(
                "STRIPE_WEBHOOK_SECRET is empty.",
                hint="Set it to the endpoint's signing secret (whsec_...) from the Stripe dashboard, "
                "then run manage.py setup_webhook_endpoint.",
                id="levqor.E001",
            )
        )

    try:
        endpoints = list(WebhookEndpoint.objects.filter(secret="").values_list("id", flat=True))
    except DatabaseError:
        # Not migrated yet: nothing can have been configured.
        return messages

    for endpoint_id in endpoints:
        messages.append(
            checks.Error(
                f"Stripe webhook endpoint {endpoint_id} has an empty secret, so every delivery to it fails.",
                hint="Set STRIPE_WEBHOOK_SECRET and run manage.py setup_webhook_endpoint.",
                id="levqor.E002",
            )
        )
    return messages


# dj-stripe 2.11 accepts only keys of this shape and fails every webhook with
# another; rk_ is a restricted key, which works when it has the permissions used.
SECRET_KEY_PATTERN = re.compile(r"^(sk|rk)_(test|live)_[a-zA-Z0-9]{24,}$")
WEBHOOK_SECRET_PATTERN = re.compile(r"^whsec_[A-Za-z0-9+/=_-]{10,}$")
# RFC 2606 reserves these domains: no mail from them is ever delivered.
RESERVED_DOMAINS = (".example", ".invalid", ".test", ".localhost")


@checks.register("levqor")
def check_debug_with_live_keys(app_configs=None, **kwargs):
    if settings.DEBUG and (settings.STRIPE_LIVE_SECRET_KEY or settings.STRIPE_LIVE_MODE):
        return [
            checks.Error(
                "DEBUG is on with a live Stripe key or STRIPE_LIVE_MODE.",
                hint="Unset DEBUG. With DEBUG on, dj-stripe accepts a webhook secret from a request header, "
                "so anyone could sign events.",
                id="levqor.E003",
            )
        ]
    return []


@checks.register("levqor")
def check_stripe_keys(app_configs=None, **kwargs):
    """Report a missing key for the mode in use (production only) and malformed keys (anywhere)."""
    messages = []
    live = settings.STRIPE_LIVE_MODE
    mode_setting = "STRIPE_LIVE_SECRET_KEY" if live else "STRIPE_TEST_SECRET_KEY"
    if settings.ENVIRONMENT == "production" and (
        not settings.STRIPE_KEYS_CONFIGURED or (live and not settings.STRIPE_LIVE_SECRET_KEY)
    ):
        messages.append(
            checks.Error(
                f"{mode_setting} is empty, so no Stripe API call can succeed.",
                hint=f"Set {mode_setting} to the secret key from the Stripe dashboard (Developers > API keys).",
                id="levqor.E004",
            )
        )

    for name, expected_mode in (("STRIPE_TEST_SECRET_KEY", "test"), ("STRIPE_LIVE_SECRET_KEY", "live")):
        key = getattr(settings, name)
        if key and malformed_key_problem(key, expected_mode):
            messages.append(
                checks.Error(
                    f"{name} {malformed_key_problem(key, expected_mode)}.",
                    hint=f"Copy the {expected_mode}-mode secret key (sk_{expected_mode}_...) or a restricted key "
                    f"(rk_{expected_mode}_...) from the Stripe dashboard into {name}.",
                    id="levqor.E005",
                )
            )
    return messages


def malformed_key_problem(key, expected_mode):
    """Return what is wrong with a secret key, without quoting it, or "" when it looks right."""
    if key.startswith("pk_"):
        return "is a publishable key, not a secret key"
    match = SECRET_KEY_PATTERN.match(key)
    if match is None:
        return "is not a Stripe secret key (expected sk_ or rk_, then test_ or live_, then at least 24 letters or digits)"
    if match[2] != expected_mode:
        return f"is a {match[2]}-mode key"
    return ""


@checks.register("levqor")
def check_webhook_secret_format(app_configs=None, **kwargs):
    secret = settings.STRIPE_WEBHOOK_SECRET
    if secret and not WEBHOOK_SECRET_PATTERN.match(secret):
        return [
            checks.Error(
                "STRIPE_WEBHOOK_SECRET is not a webhook signing secret (expected whsec_ and at least 10 characters).",
                hint="Copy the endpoint's signing secret from the Stripe dashboard (Developers > Webhooks > "
                "the endpoint > Signing secret), then run manage.py setup_webhook_endpoint.",
                id="levqor.E006",
            )
        ]
    return []


@checks.register("levqor")
def check_connection_health_checks(app_configs=None, **kwargs):
    database = settings.DATABASES["default"]
    persistent = database.get("CONN_MAX_AGE", 0) != 0
    if database["ENGINE"].startswith("django.db.backends.postgresql") and persistent and not database.get(
        "CONN_HEALTH_CHECKS"
    ):
        return [
            checks.Error(
                "CONN_HEALTH_CHECKS is off while PostgreSQL connections are kept open (CONN_MAX_AGE is not 0).",
                hint="Set CONN_HEALTH_CHECKS=1, so a connection the server or a proxy closed is replaced before "
                "a request uses it, or set CONN_MAX_AGE=0 behind a connection pooler.",
                id="levqor.E007",
            )
        ]
    return []


@checks.register("levqor")
def check_sender_address(app_configs=None, **kwargs):
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2].lower()
    if not address or "@" not in address or "." not in domain:
        problem = "is missing" if not settings.DEFAULT_FROM_EMAIL else "has no valid email address"
    elif settings.ENVIRONMENT == "production" and domain.endswith(RESERVED_DOMAINS):
        problem = f"uses the reserved domain {domain}, from which no mail is delivered"
    else:
        return []
    return [
        checks.Error(
            f"DEFAULT_FROM_EMAIL {problem}.",
            hint="Set DEFAULT_FROM_EMAIL to a sender on a domain verified with the email provider, "
            "e.g. 'Levqor <orders@levqor.com>'.",
            id="levqor.E008",
        )
    ]


@checks.register("levqor")
def check_endpoint_api_version(app_configs=None, **kwargs):
    from djstripe.models import WebhookEndpoint

    try:
        endpoint = WebhookEndpoint.objects.filter(id=settings.STRIPE_WEBHOOK_ENDPOINT_ID).first()
    except DatabaseError:
        # Not migrated yet: nothing can have been configured.
        return []
    if endpoint is None or endpoint.api_version == settings.STRIPE_API_VERSION:
        return []
    return [
        checks.Error(
            f"Webhook endpoint {endpoint.id} is stored with API version {endpoint.api_version or '(none)'}, "
            f"but STRIPE_API_VERSION is {settings.STRIPE_API_VERSION}.",
            hint="Run manage.py setup_webhook_endpoint to store the pinned version, and check the Stripe "
            "endpoint's version with manage.py stripe_check.",
            id="levqor.E009",
        )
    ]
