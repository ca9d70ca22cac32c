"""System checks (ids levqor.E001 and up): run by manage.py check, migrate and the demo."""

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
