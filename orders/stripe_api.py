"""The one module that calls the Stripe API.

Everything else asks this module, so keys, the pinned API version, timeouts
and error translation live in one place, and tests point stripe.api_base at
a loopback double.
"""

import logging

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)


class StripeUnavailable(Exception):
    """The Stripe API could not be reached or failed; the caller may retry later."""


class StripeRejected(Exception):
    """The Stripe API rejected the request (unknown object, bad key), so a retry gets the same response."""

    def __init__(self, message, status_code=None):
        super().__init__(message)
        self.status_code = status_code


# Timeouts, rate limits and Stripe's own 5xx errors can succeed later.
TRANSIENT_ERRORS = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def api_key(livemode=None):
    """Return the secret key for live or test mode (default: STRIPE_LIVE_MODE)."""
    live = settings.STRIPE_LIVE_MODE if livemode is None else livemode
    return settings.STRIPE_LIVE_SECRET_KEY if live else settings.STRIPE_TEST_SECRET_KEY


def request_options(livemode=None):
    return {"api_key": api_key(livemode), "stripe_version": settings.STRIPE_API_VERSION}


def call(operation, *args, livemode=None, **kwargs):
    """Run one stripe-python operation with our key and version.

    Raises StripeUnavailable for a failure worth retrying and StripeRejected
    for any other error Stripe returns.
    """
    try:
        return operation(*args, **request_options(livemode), **kwargs)
    except TRANSIENT_ERRORS as exc:
        logger.warning("Stripe API call %s failed: %s", getattr(operation, "__qualname__", operation), exc)
        raise StripeUnavailable(str(exc)) from exc
    except stripe.StripeError as exc:
        logger.warning("Stripe API call %s was rejected: %s", getattr(operation, "__qualname__", operation), exc)
        raise StripeRejected(str(exc), exc.http_status) from exc


def retrieve_account(livemode=None):
    return call(stripe.Account.retrieve, livemode=livemode)


def retrieve_checkout_session(session_id, livemode=None):
    return call(stripe.checkout.Session.retrieve, session_id, livemode=livemode)


def retrieve_customer(customer_id, livemode=None):
    return call(stripe.Customer.retrieve, customer_id, livemode=livemode)


def retrieve_payment_intent(payment_intent_id, livemode=None):
    return call(stripe.PaymentIntent.retrieve, payment_intent_id, livemode=livemode)


def sync_mirror(model, stripe_object, livemode=None):
    """Store a Stripe object in its dj-stripe mirror model and return the row.

    dj-stripe fetches related objects it does not have yet (a session's
    customer or payment intent) through stripe-python, so its errors are
    translated here like those of the calls above.
    """

    def sync_from_stripe_data(data, api_key, stripe_version):
        return model.sync_from_stripe_data(data, api_key=api_key)

    sync_from_stripe_data.__qualname__ = f"{model.__name__}.sync_from_stripe_data"
    return call(sync_from_stripe_data, stripe_object, livemode=livemode)
