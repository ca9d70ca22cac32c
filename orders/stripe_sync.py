"""Keep dj-stripe's own event handlers out of the webhook request.

dj-stripe 2.11 connects a handler to most event types that re-fetches the
object and its relations from the Stripe API inside the request: four to eight
calls for a checkout session, and a customer lookup that fails for
customer.deleted. Any failing call rolls the whole event back and returns 500,
so a slow or broken Stripe API would block orders. Every one of those handlers
is disconnected; the request stores the event and runs our receivers only.
"""

import logging

from djstripe import event_handlers
from djstripe.models import Event
from djstripe.signals import WEBHOOK_SIGNALS

logger = logging.getLogger(__name__)


def djstripe_handlers():
    return [
        handler
        for name, handler in vars(event_handlers).items()
        if name.startswith("handle_") and callable(handler) and handler.__module__ == event_handlers.__name__
    ]


def disconnect_djstripe_handlers():
    """Disconnect dj-stripe's handlers from every webhook signal; return how many were connected."""
    disconnected = 0
    for signal in WEBHOOK_SIGNALS.values():
        for handler in djstripe_handlers():
            disconnected += signal.disconnect(handler, sender=Event)

    logger.debug("Disconnected %s dj-stripe webhook handlers", disconnected)
    return disconnected

