"""Checks on a webhook delivery that dj-stripe 2.11 does not make.

Each function returns a problem description (a short English phrase for logs
and the admin) or None when the delivery passes.
"""

import json
import time

from .checkout import CheckoutSession, InvalidCheckoutSession
from .services import CHECKOUT_EVENT_TYPES

# Column sizes of djstripe.models.Event in dj-stripe 2.11. A longer value fails
# the insert on PostgreSQL, so every retry of the event would fail with 500.
MAX_EVENT_ID_LENGTH = 255
MAX_EVENT_TYPE_LENGTH = 250
MAX_API_VERSION_LENGTH = 64
MAX_REQUEST_ID_LENGTH = 50
MAX_PROBLEM_LENGTH = 100


def signature_timestamp(header):
    """Return the t= value of a Stripe-Signature header as an int, or None when it has none.

    stripe-python 15 reads the first "t" item of the comma-separated list, so
    this does too.
    """
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def future_timestamp_problem(header, tolerance, now=None):
    """Report a signature timestamp more than `tolerance` seconds ahead of this server's clock.

    stripe-python rejects timestamps older than the tolerance but accepts any
    future one, so a request signed with a future timestamp could be replayed
    until that time had passed.
    """
    timestamp = signature_timestamp(header)
    now = time.time() if now is None else now
    if timestamp is not None and timestamp > now + tolerance:
        return f"signature timestamp {timestamp} is more than {tolerance} s in the future"
    return None


def event_livemode(body):
    """Return the livemode flag of a JSON event body, or None when the body has no boolean flag."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    livemode = data.get("livemode") if isinstance(data, dict) else None
    return livemode if isinstance(livemode, bool) else None


def livemode_problem(body, endpoint_livemode):
    livemode = event_livemode(body)
    if livemode is None or livemode == endpoint_livemode:
        return None
    event_mode = "live" if livemode else "test"
    endpoint_mode = "live" if endpoint_livemode else "test"
    return f"{event_mode}-mode event sent to a {endpoint_mode}-mode endpoint"


def is_text(value, max_length, *, allow_empty=False):
    return isinstance(value, str) and (allow_empty or value != "") and len(value) <= max_length


def request_problem(request):
    """Check the event's request field: null, a request id, or {id, idempotency_key}."""
    if request is None or is_text(request, MAX_REQUEST_ID_LENGTH, allow_empty=True):
        return None
    if not isinstance(request, dict):
        return "request is neither an object, a string nor null"

    request_id = request.get("id")
    if request_id is not None and not is_text(request_id, MAX_REQUEST_ID_LENGTH, allow_empty=True):
        return "request.id is not a request id"
    key = request.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        return "request.idempotency_key is not a string"
    return None


def account_problem(account, owner_account_id):
    """Check the event's account field, which Stripe sets only on events from Connect accounts.

    dj-stripe 2.11 fetches an unknown account from the Stripe API inside the
    request, and this service is no Connect platform, so only the endpoint's
    own account is accepted.
    """
    if account is None or account == owner_account_id:
        return None
    if not isinstance(account, str):
        return "account is not an account id"
    return f"account {account[:MAX_EVENT_ID_LENGTH]} is not the endpoint's account"


def envelope_problem(data, owner_account_id=None):
    """Check that a signed event body has the shape of a Stripe Event that dj-stripe can store.

    A signed body that fails here can never be stored, however often Stripe
    retries it, so it is acknowledged and ignored rather than failed with 500.
    """
    if not isinstance(data, dict):
        return "the body is not a JSON object"
    if not is_text(data.get("id"), MAX_EVENT_ID_LENGTH):
        return "id is not an event id"
    if not is_text(data.get("type"), MAX_EVENT_TYPE_LENGTH):
        return "type is not an event type"
    if not isinstance(data.get("livemode"), bool):
        return "livemode is not a boolean"

    created = data.get("created")
    if isinstance(created, bool) or not isinstance(created, int) or created < 0:
        return "created is not a Unix timestamp"

    api_version = data.get("api_version")
    if api_version is not None and not is_text(api_version, MAX_API_VERSION_LENGTH, allow_empty=True):
        return "api_version is not an API version"

    event_data = data.get("data")
    if not isinstance(event_data, dict) or not isinstance(event_data.get("object"), dict):
        return "data.object is not an object"

    return request_problem(data.get("request")) or account_problem(data.get("account"), owner_account_id)


def checkout_problem(data):
    """Check that a checkout.session.* event carries a Checkout Session an order can be keyed on."""
    if data["type"] not in CHECKOUT_EVENT_TYPES:
        return None
    try:
        CheckoutSession.from_stripe(data["data"]["object"])
    except InvalidCheckoutSession as exc:
        # The message quotes the invalid id, which may be long.
        return str(exc)[:MAX_PROBLEM_LENGTH]
    return None


def unprocessable_problem(data, owner_account_id=None):
    """Report why a signed event body can never be processed, or return None when it can."""
    return envelope_problem(data, owner_account_id) or checkout_problem(data)
