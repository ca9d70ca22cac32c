"""The one module that calls the Stripe API.

Everything else asks this module, so keys, the pinned API version, timeouts
and error translation live in one place, and tests point stripe.api_base at
a loopback double.
"""

import logging

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)


class StripeAPIError(Exception):
    """Base of the errors this adapter raises in place of stripe-python's."""


class StripeUnavailable(StripeAPIError):
    """The Stripe API could not be reached or failed; the caller may retry later."""


class StripeAuthenticationFailed(StripeAPIError):
    """Stripe rejected the API key: revoked, rolled, mistyped, or (403) missing a permission the call needs.

    Retrying with the same key cannot succeed, so this is not a StripeUnavailable.
    """


class StripeObjectNotFound(StripeAPIError):
    """The requested object does not exist for this key's account and mode."""


class StripeRequestRejected(StripeAPIError):
    """Stripe rejected the request itself (invalid parameters); retrying the same request cannot succeed."""


def api_key(livemode=None):
    """Return the secret key for live or test mode (default: STRIPE_LIVE_MODE)."""
    live = settings.STRIPE_LIVE_MODE if livemode is None else livemode
    return settings.STRIPE_LIVE_SECRET_KEY if live else settings.STRIPE_TEST_SECRET_KEY


def request_options(livemode=None):
    return {"api_key": api_key(livemode), "stripe_version": settings.STRIPE_API_VERSION}


def call(operation, *args, livemode=None, **kwargs):
    """Run one stripe-python operation with our key and version, translating its errors.

    Raises StripeUnavailable (network, rate limit, Stripe's 5xx),
    StripeAuthenticationFailed (401 or 403), StripeObjectNotFound (404) or
    StripeRequestRejected (any other 4xx).
    """
    name = getattr(operation, "__qualname__", operation)
    try:
        return operation(*args, **request_options(livemode), **kwargs)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        logger.warning("Stripe API call %s failed: %s", name, error_message(exc))
        raise StripeUnavailable(error_message(exc)) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        # Stripe's message names the key only by its last four characters.
        logger.error("Stripe rejected the API key for %s (HTTP %s): %s", name, exc.http_status, error_message(exc))
        raise StripeAuthenticationFailed(error_message(exc)) from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            logger.info("Stripe API call %s found no object: %s", name, error_message(exc))
            raise StripeObjectNotFound(error_message(exc)) from exc
        logger.warning("Stripe rejected the request %s (HTTP %s): %s", name, exc.http_status, error_message(exc))
        raise StripeRequestRejected(error_message(exc)) from exc


def error_message(exc):
    """Return stripe-python's message on one line; for a network error, only the network part."""
    message = " ".join((exc.user_message or type(exc).__name__).split())
    marker = "(Network error: "
    if isinstance(exc, stripe.APIConnectionError) and marker in message:
        message = "network error: " + message.split(marker, 1)[1].removesuffix(")")
    return message


def retrieve_account(livemode=None):
    return call(stripe.Account.retrieve, livemode=livemode)


def retrieve_checkout_session(session_id, livemode=None):
    return call(stripe.checkout.Session.retrieve, session_id, livemode=livemode)


def retrieve_price(price_id, livemode=None):
    return call(stripe.Price.retrieve, price_id, livemode=livemode)


def retrieve_webhook_endpoint(endpoint_id, livemode=None):
    return call(stripe.WebhookEndpoint.retrieve, endpoint_id, livemode=livemode)
