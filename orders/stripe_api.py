"""The one module that calls the Stripe API.

Everything else calls this module, so keys, the pinned API version, timeouts
and error translation live in one place, and tests point stripe.api_base at
a loopback double.
"""

import contextlib
import logging

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

# Stripe's largest page for list requests: limit ranges from 1 to 100
# (list parameters in stripe-python 15.6.2).
PAGE_SIZE = 100

# Timeouts, rate limits and Stripe's own 5xx errors can succeed later.
TRANSIENT_ERRORS = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


class StripeAPIError(Exception):
    """Base of the errors this adapter raises in place of stripe-python's."""


class StripeUnavailable(StripeAPIError):
    """The Stripe API could not be reached or failed; the caller may retry later."""


class StripeRejected(StripeAPIError):
    """The Stripe API rejected the request, so a retry gets the same response."""

    def __init__(self, message, status_code=None):
        super().__init__(message)
        self.status_code = status_code


class StripeAuthenticationFailed(StripeRejected):
    """Stripe rejected the API key: revoked, rolled, mistyped, or (403) missing a permission the call needs."""


class StripeObjectNotFound(StripeRejected):
    """The requested object does not exist for this key's account and mode."""


class StripeRequestRejected(StripeRejected):
    """Stripe rejected the request itself (invalid parameters)."""


def api_key(livemode=None):
    """Return the secret key for live or test mode (default: STRIPE_LIVE_MODE)."""
    live = settings.STRIPE_LIVE_MODE if livemode is None else livemode
    return settings.STRIPE_LIVE_SECRET_KEY if live else settings.STRIPE_TEST_SECRET_KEY


def request_options(livemode=None):
    return {"api_key": api_key(livemode), "stripe_version": settings.STRIPE_API_VERSION}


@contextlib.contextmanager
def translated_errors(operation):
    """Translate stripe-python's errors into this module's, logging each with the operation's name.

    Raises StripeUnavailable (network, rate limit, Stripe's 5xx),
    StripeAuthenticationFailed (401 or 403), StripeObjectNotFound (404) or
    StripeRequestRejected (any other rejection).
    """
    name = getattr(operation, "__qualname__", operation)
    try:
        yield
    except TRANSIENT_ERRORS as exc:
        logger.warning("Stripe API call %s failed: %s", name, error_message(exc))
        raise StripeUnavailable(error_message(exc)) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        # Stripe's message names the key only by its last four characters.
        logger.error("Stripe rejected the API key for %s (HTTP %s): %s", name, exc.http_status, error_message(exc))
        raise StripeAuthenticationFailed(error_message(exc), exc.http_status) from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            logger.info("Stripe API call %s found no object: %s", name, error_message(exc))
            raise StripeObjectNotFound(error_message(exc), 404) from exc
        logger.warning("Stripe rejected the request %s (HTTP %s): %s", name, exc.http_status, error_message(exc))
        raise StripeRequestRejected(error_message(exc), exc.http_status) from exc
    except stripe.StripeError as exc:
        logger.warning("Stripe API call %s was rejected: %s", name, error_message(exc))
        raise StripeRequestRejected(error_message(exc), exc.http_status) from exc


def error_message(exc):
    """Return stripe-python's message on one line; for a network error, only the network part."""
    message = " ".join((exc.user_message or type(exc).__name__).split())
    marker = "(Network error: "
    if isinstance(exc, stripe.APIConnectionError) and marker in message:
        message = "network error: " + message.split(marker, 1)[1].removesuffix(")")
    return message


def call(operation, *args, livemode=None, **kwargs):
    """Run one stripe-python operation with our key and version, translating its errors."""
    with translated_errors(operation):
        return operation(*args, **request_options(livemode), **kwargs)


def list_all(operation, livemode=None, **params):
    """Run a list operation and follow every page (has_more, starting_after); return the objects as dicts."""
    with translated_errors(operation):
        first_page = operation(**request_options(livemode), limit=PAGE_SIZE, **params)
        return [item.to_dict() for item in first_page.auto_paging_iter()]


def unix_time(moment):
    return int(moment.timestamp())


def retrieve_account(livemode=None):
    return call(stripe.Account.retrieve, livemode=livemode)


def retrieve_checkout_session(session_id, livemode=None):
    return call(stripe.checkout.Session.retrieve, session_id, livemode=livemode)


def retrieve_price(price_id, livemode=None):
    return call(stripe.Price.retrieve, price_id, livemode=livemode)


def retrieve_webhook_endpoint(endpoint_id, livemode=None):
    return call(stripe.WebhookEndpoint.retrieve, endpoint_id, livemode=livemode)


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


def list_checkout_sessions(created_since, status, livemode=None):
    """Return the Checkout Sessions created at or after created_since with this status, newest first."""
    return list_all(
        stripe.checkout.Session.list,
        livemode=livemode,
        created={"gte": unix_time(created_since)},
        status=status,
    )


def list_undelivered_events(event_types, created_since, livemode=None):
    """Return the events of these types created since then whose webhook delivery has not succeeded, newest first.

    Stripe counts an event still being retried as not delivered, as well as one whose retries all failed.
    """
    # Stripe's types filter takes up to 20 exact event names, no wildcards.
    return list_all(
        stripe.Event.list,
        livemode=livemode,
        created={"gte": unix_time(created_since)},
        delivery_success=False,
        types=list(event_types),
    )
