"""Local Stripe configuration rows, written without calling the Stripe API."""

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from djstripe.enums import WebhookEndpointStatus
from djstripe.models import Account, APIKey, WebhookEndpoint

from .lifecycle import LIFECYCLE_EVENT_TYPES
from .services import CHECKOUT_EVENT_TYPES

# Event types the Stripe dashboard endpoint must send: the checkout events
# that fulfil orders, the refund, dispute, subscription and invoice events
# that keep them true to Stripe, and customer.deleted, which is recorded on orders.
ENABLED_EVENTS = [*CHECKOUT_EVENT_TYPES, *LIFECYCLE_EVENT_TYPES, "customer.deleted"]


def configured_secret_keys():
    return [key for key in (settings.STRIPE_TEST_SECRET_KEY, settings.STRIPE_LIVE_SECRET_KEY) if key]


@transaction.atomic
def seed_account():
    """Store the Stripe account and its API keys.

    With these rows dj-stripe finds the account of an event in the database.
    Without them it requests GET /v1/account from Stripe inside the webhook request.
    """
    account, _ = Account.objects.get_or_create(
        id=settings.STRIPE_ACCOUNT_ID, defaults={"livemode": settings.STRIPE_LIVE_MODE}
    )
    for secret in configured_secret_keys():
        api_key, _ = APIKey.objects.get_or_create_by_api_key(secret)
        if api_key.djstripe_owner_account_id != account.id:
            api_key.djstripe_owner_account = account
            api_key.save(update_fields=["djstripe_owner_account", "djstripe_updated"])
    return account


@transaction.atomic
def configure_endpoint(secret, base_url=None):
    """Create or update the webhook endpoint with this signing secret; return it."""
    if not secret:
        raise ValueError("The webhook signing secret is empty: set STRIPE_WEBHOOK_SECRET.")

    account = seed_account()
    base_url = (base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    endpoint, created = WebhookEndpoint.objects.get_or_create(
        id=settings.STRIPE_WEBHOOK_ENDPOINT_ID,
        defaults={"enabled_events": ENABLED_EVENTS, "secret": secret, "livemode": settings.STRIPE_LIVE_MODE},
    )
    endpoint.secret = secret
    endpoint.enabled_events = ENABLED_EVENTS
    endpoint.livemode = settings.STRIPE_LIVE_MODE
    endpoint.api_version = settings.STRIPE_API_VERSION
    endpoint.status = WebhookEndpointStatus.enabled
    endpoint.djstripe_owner_account = account
    endpoint.url = base_url + reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint.djstripe_uuid})
    endpoint.save()
    return endpoint, created


def legacy_webhook_url(base_url=None):
    base_url = (base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    return base_url + reverse("stripe-checkout-completed-webhook")
