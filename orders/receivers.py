"""dj-stripe signal receivers: route each signed event to orders.services or orders.lifecycle.

dj-stripe sends these inside the transaction that stores the Event row, so an
exception here rolls the event back and returns 500, and Stripe retries.
"""

import logging

from django.dispatch import receiver
from djstripe.models import Event
from djstripe.signals import WEBHOOK_SIGNALS, webhook_post_validate

from . import lifecycle, services
from .models import DFYOrder

logger = logging.getLogger(__name__)


@receiver([WEBHOOK_SIGNALS[event_type] for event_type in services.CHECKOUT_EVENT_TYPES], sender=Event)
def handle_checkout_session_event(sender, event, **kwargs):
    session = event.data.get("object")
    session_id = session.get("id") if isinstance(session, dict) else None
    logger.info(
        "Stripe event %s (%s) received for checkout session %s",
        event.id,
        event.type,
        session_id,
        extra={"stripe_event_id": event.id, "event_type": event.type, "checkout_session_id": session_id},
    )
    services.handle_checkout_event(event.type, session, event.id)


@receiver([WEBHOOK_SIGNALS[event_type] for event_type in lifecycle.LIFECYCLE_EVENT_TYPES], sender=Event)
def handle_payment_lifecycle_event(sender, event, **kwargs):
    lifecycle.handle_lifecycle_event(event.type, event.data.get("object"), event.id, event.created)


@receiver(WEBHOOK_SIGNALS["customer.deleted"], sender=Event)
def handle_customer_deleted_event(sender, event, **kwargs):
    customer = event.data.get("object")
    customer_id = customer.get("id") if isinstance(customer, dict) else None
    if not isinstance(customer_id, str) or not customer_id:
        logger.warning("Ignored customer.deleted event %s without a customer id", event.id)
        return

    # Orders keep their history: the Stripe customer is gone, the purchase is not.
    for order in DFYOrder.objects.filter(stripe_customer_id=customer_id):
        order.record(
            "stripe.customer_deleted",
            f"Stripe customer {customer_id} was deleted in Stripe; the order is unchanged.",
            stripe_event_id=event.id,
        )


@receiver(webhook_post_validate)
def log_rejected_webhook(sender, instance, valid, **kwargs):
    """Log an expected rejection as one warning with ids and no stack trace."""
    if valid:
        return

    body = instance.json_body if isinstance(instance.json_body, dict) else {}
    reason = "signature verification failed" if body.get("id") else "body is not a Stripe event"
    logger.warning(
        "Stripe webhook rejected: %s (trigger %s, endpoint %s, event %s)",
        reason,
        instance.pk,
        instance.webhook_endpoint_id,
        body.get("id", "-"),
    )
