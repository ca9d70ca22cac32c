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


def api_key(livemode=None):
    """Return the secret key for live or test mode (default: STRIPE_LIVE_MODE)."""
    live = settings.STRIPE_LIVE_MODE if livemode is None else livemode
    return settings.STRIPE_LIVE_SECRET_KEY if live else settings.STRIPE_TEST_SECRET_KEY


def request_options(livemode=None):
    return {"api_key": api_key(livemode), "stripe_version": settings.STRIPE_API_VERSION}


def call(operation, *args, livemode=None, **kwargs):
    """Run one stripe-python operation with our key and version; raise StripeUnavailable on failure."""
    try:
        return operation(*args, **request_options(livemode), **kwargs)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        logger.warning("Stripe API call %s failed: %s", getattr(operation, "__qualname__", operation), exc)
        raise StripeUnavailable(str(exc)) from exc


def retrieve_account(livemode=None):
    return call(stripe.Account.retrieve, livemode=livemode)


def retrieve_checkout_session(session_id, livemode=None):
    return call(stripe.checkout.Session.retrieve, session_id, livemode=livemode)
