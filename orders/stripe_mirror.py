"""Refresh dj-stripe's mirror rows of one order from the Stripe API.

Runs in the task worker, never in the webhook request (see stripe_sync.py for
why dj-stripe's in-request handlers are disconnected). The order itself is
never changed here: the mirror is Stripe's view, the order is ours.
"""

import logging

from djstripe.models import Customer, PaymentIntent, Session

from . import stripe_api

logger = logging.getLogger(__name__)


def sync_order(order):
    """Sync the order's Customer, PaymentIntent and Checkout Session rows; return the synced ids.

    Raises stripe_api.StripeUnavailable or stripe_api.StripeRejected.
    """
    livemode = order.livemode
    synced = []
    if order.stripe_customer_id:
        customer = stripe_api.retrieve_customer(order.stripe_customer_id, livemode)
        synced.append(stripe_api.sync_mirror(Customer, customer, livemode).id)
    if order.stripe_payment_intent_id:
        payment_intent = stripe_api.retrieve_payment_intent(order.stripe_payment_intent_id, livemode)
        synced.append(stripe_api.sync_mirror(PaymentIntent, payment_intent, livemode).id)

    session = stripe_api.retrieve_checkout_session(order.stripe_checkout_session_id, livemode)
    synced.append(stripe_api.sync_mirror(Session, session, livemode).id)
    logger.info("Synced Stripe mirror rows %s for order %s", synced, order.pk)
    return synced
