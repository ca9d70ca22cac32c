"""Stripe webhook endpoints.

Both URLs run dj-stripe's processing: it stores the request as a
WebhookEventTrigger, verifies the Stripe-Signature header, stores the Event once
per event id and sends the event's signal, inside one transaction.

HTTP contract, kept by dj-stripe's processing and the checks here:

- 400: the request is rejected and nothing is processed. The reason is a
  missing or invalid signature, or a signature timestamp more than the
  endpoint's tolerance (300 s by default) in the past or in the future. It is
  also a body that is not a Stripe event or is over
  DATA_UPLOAD_MAX_MEMORY_SIZE, and a live-mode event on a test-mode endpoint
  (or the reverse). Stripe retries any non-2xx response, so a mode mismatch
  fixed in the settings within Stripe's retry period loses no payment.
- 404: no endpoint with that uuid. 405: a method other than POST.
- 500: our own processing failed. The event is rolled back, the trigger row
  keeps the error, and Stripe retries later.
- 200: the event was applied, ignored, or had already been applied. A signed
  event that can never be processed (a body dj-stripe cannot store as an
  Event, or a checkout.session.* event without a usable Checkout Session) is
  ignored with 200, because no retry could succeed. Its trigger row records
  why (orders.models.CheckedWebhookEventTrigger).
- 503 (the earlier URL only): no endpoint is set up yet, so Stripe retries.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from djstripe.models import WebhookEndpoint
from djstripe.views import ProcessWebhookView

from .models import CheckedWebhookEventTrigger
from .webhook_checks import future_timestamp_problem, livemode_problem

logger = logging.getLogger(__name__)

# With DEBUG on, dj-stripe 2.11 verifies against the secret in this header
# instead of the endpoint's, which would let anyone sign an event.
SECRET_OVERRIDE_HEADER = "HTTP_X_DJSTRIPE_WEBHOOK_SECRET"


def check_request(request, endpoint_label):
    """Return a 400 response for a request that must not reach dj-stripe, or None."""
    if request.META.pop(SECRET_OVERRIDE_HEADER, None) is not None:
        logger.warning("Dropped the X-Djstripe-Webhook-Secret header from a webhook for endpoint %s", endpoint_label)
        # request.headers is cached from META on first use.
        request.__dict__.pop("headers", None)

    if "stripe-signature" not in request.headers:
        logger.warning("Stripe webhook rejected: missing Stripe-Signature header (endpoint %s)", endpoint_label)
        return HttpResponseBadRequest("Missing Stripe-Signature header.")

    try:
        request.body
    except RequestDataTooBig:
        # dj-stripe would store a trigger row for it with an unreadable body.
        logger.warning(
            "Stripe webhook rejected: body of %s bytes is over DATA_UPLOAD_MAX_MEMORY_SIZE (endpoint %s)",
            request.META.get("CONTENT_LENGTH", "?"),
            endpoint_label,
        )
        return HttpResponseBadRequest("Request body too large.")
    return None


def check_event(request, endpoint):
    """Return a 400 response for a readable request that must not be stored, or None."""
    problem = future_timestamp_problem(
        request.headers["stripe-signature"], endpoint.djstripe_tolerance
    ) or livemode_problem(request.body, endpoint.livemode)
    if problem is None:
        return None

    logger.warning("Stripe webhook rejected: %s (endpoint %s)", problem, endpoint.id)
    return HttpResponseBadRequest("Webhook rejected.")


class StripeWebhookView(ProcessWebhookView):
    def post(self, request, uuid):
        rejection = check_request(request, uuid)
        if rejection is not None:
            return rejection

        endpoint = get_object_or_404(WebhookEndpoint, djstripe_uuid=uuid)
        return self.receive(request, endpoint)

    def receive(self, request, endpoint):
        """Store, verify and process the request, as dj-stripe's own post() does after its endpoint lookup."""
        rejection = check_event(request, endpoint)
        if rejection is not None:
            return rejection

        trigger = CheckedWebhookEventTrigger.from_request(request, webhook_endpoint=endpoint)
        if not trigger.valid:
            # orders.receivers.log_rejected_webhook has logged the reason.
            return HttpResponseBadRequest()
        return HttpResponse(str(trigger.id))


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

        rejection = check_request(request, endpoint.id)
        if rejection is not None:
            return rejection
        return self.receive(request, endpoint)
