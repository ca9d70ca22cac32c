"""Stripe webhook endpoints.

Both URLs run dj-stripe's processing: it stores the request as a
WebhookEventTrigger, verifies the Stripe-Signature header, stores the Event once
per event id and sends the event's signal, inside one transaction.

HTTP contract, kept by dj-stripe's view and these subclasses:

- 400: missing or invalid signature, stale timestamp, or a body that is not a
  Stripe event. Nothing is processed.
- 404: no endpoint with that uuid.
- 500: our own processing failed. The event is rolled back, the trigger row
  keeps the error, and Stripe retries later.
- 200: the event was applied, ignored, or had already been applied.
- 503 (the earlier URL only): no endpoint is set up yet, so Stripe retries.
"""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from djstripe.models import WebhookEndpoint
from djstripe.views import ProcessWebhookView

logger = logging.getLogger(__name__)

# With DEBUG on, dj-stripe 2.11 verifies against the secret in this header
# instead of the endpoint's, which would let anyone sign an event.
SECRET_OVERRIDE_HEADER = "HTTP_X_DJSTRIPE_WEBHOOK_SECRET"


class StripeWebhookView(ProcessWebhookView):
    def post(self, request, uuid):
        if request.META.pop(SECRET_OVERRIDE_HEADER, None) is not None:
            logger.warning("Dropped the X-Djstripe-Webhook-Secret header from a webhook for endpoint %s", uuid)
            # request.headers is cached from META on first use.
            request.__dict__.pop("headers", None)

        if "stripe-signature" not in request.headers:
            logger.warning("Stripe webhook rejected: missing Stripe-Signature header (endpoint %s)", uuid)
            return HttpResponseBadRequest("Missing Stripe-Signature header.")

        return super().post(request, uuid)


class CheckoutCompletedWebhookView(StripeWebhookView):
    """The URL the earlier system registered in Stripe, served by the configured endpoint."""

    def post(self, request):
        endpoint = WebhookEndpoint.objects.filter(id=settings.STRIPE_WEBHOOK_ENDPOINT_ID).first()
        if endpoint is None:
            # 503 so Stripe keeps retrying until the endpoint is set up.
            logger.error(
                "Stripe webhook endpoint %s is not set up: run manage.py setup_webhook_endpoint",
                settings.STRIPE_WEBHOOK_ENDPOINT_ID,
            )
            return HttpResponse("Webhook endpoint not configured.", status=503)

        return super().post(request, endpoint.djstripe_uuid)
