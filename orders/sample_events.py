"""Signed Stripe events built from Stripe's published object fixtures.

Used by manage.py send_test_webhook, the demo and the tests. The fixtures in
tests/fixtures/stripe/ are Stripe's own example objects; only the fields a
scenario needs are overridden.
"""

import copy
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from functools import cache

from django.conf import settings

FIXTURES_DIR = settings.BASE_DIR / "tests" / "fixtures" / "stripe"


@cache
def _fixture(name):
    with open(FIXTURES_DIR / f"{name}.json", encoding="utf-8") as fixture_file:
        return json.load(fixture_file)


def fixture(name):
    """Return a fresh copy of one Stripe object fixture, e.g. "checkout_session"."""
    return copy.deepcopy(_fixture(name))


def random_id(prefix):
    return f"{prefix}_{secrets.token_hex(12)}"


def checkout_session(
    session_id="cs_test_A",
    *,
    metadata=None,
    payment_status="paid",
    amount_total=9900,
    currency="gbp",
    email="customer@example.com",
    name="Jane Doe",
    customer_email=None,
    customer=None,
    stripe_mode="payment",
    subscription=None,
    livemode=False,
):
    """Return a completed checkout.session object; by default the paid DFY Starter session."""
    session = fixture("checkout_session")
    session.update(
        id=session_id,
        status="complete",
        payment_status=payment_status,
        amount_subtotal=amount_total,
        amount_total=amount_total,
        currency=currency,
        customer=customer,
        customer_email=customer_email,
        metadata={"mode": "dfy", "plan": "starter"} if metadata is None else metadata,
        mode=stripe_mode,
        subscription=subscription,
        livemode=livemode,
        url=None,
    )
    session["customer_details"].update(email=email, name=name)
    return session


def event(event_type, stripe_object, *, event_id=None, created=None):
    """Wrap a Stripe object in an event of the given type, as Stripe delivers it."""
    stripe_event = fixture("event")
    stripe_event.update(
        id=event_id or random_id("evt"),
        type=event_type,
        api_version=settings.STRIPE_API_VERSION,
        created=int(time.time()) if created is None else created,
        livemode=bool(stripe_object.get("livemode", False)),
        data={"object": stripe_object},
    )
    return stripe_event


def encode(stripe_event):
    return json.dumps(stripe_event, separators=(",", ":")).encode()


def signature_header(payload, secret, timestamp=None):
    """Return a Stripe-Signature header for these exact bytes (scheme v1, HMAC-SHA256)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def deliver(url, stripe_event, secret, *, timeout=30):
    """POST a signed event to a webhook URL on this machine; return (HTTP status, body text)."""
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"Refusing to send a test event to {host!r}: use a URL on 127.0.0.1, localhost or ::1.")

    payload = encode(stripe_event)
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": signature_header(payload, secret)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
