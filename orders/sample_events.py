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


def now_or(timestamp):
    """Return the Unix time given, or the current one for None."""
    return int(time.time()) if timestamp is None else timestamp


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
    payment_intent="pi_test_A",
    livemode=False,
    created=None,
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
        payment_intent=payment_intent,
        livemode=livemode,
        url=None,
        created=now_or(created),
    )
    session["customer_details"].update(email=email, name=name)
    return session


def charge(
    charge_id="ch_test_A",
    *,
    payment_intent="pi_test_A",
    amount=9900,
    amount_refunded=0,
    currency="gbp",
    customer=None,
    created=None,
):
    """Return a succeeded charge; amount_refunded is Stripe's running total of its refunds."""
    stripe_charge = fixture("charge")
    stripe_charge.update(
        id=charge_id,
        payment_intent=payment_intent,
        amount=amount,
        amount_captured=amount,
        amount_refunded=amount_refunded,
        refunded=amount_refunded >= amount,
        captured=True,
        currency=currency,
        customer=customer,
        created=now_or(created),
    )
    # Since API version 2022-11-15 a charge in an event carries no refunds list.
    del stripe_charge["refunds"]
    return stripe_charge


def refund(
    refund_id="re_test_A",
    *,
    charge="ch_test_A",
    payment_intent="pi_test_A",
    amount=9900,
    currency="gbp",
    status="succeeded",
    reason="requested_by_customer",
    created=None,
):
    return charge_child(
        "refund", refund_id, charge=charge, payment_intent=payment_intent, amount=amount,
        currency=currency, status=status, reason=reason, created=now_or(created),
    )


def dispute(
    dispute_id="dp_test_A",
    *,
    charge="ch_test_A",
    payment_intent="pi_test_A",
    amount=9900,
    currency="gbp",
    status="needs_response",
    reason="fraudulent",
    due_by=None,
    created=None,
):
    """Return a dispute; due_by (Unix time) is the evidence deadline, by default a week from now."""
    stripe_dispute = charge_child(
        "dispute", dispute_id, charge=charge, payment_intent=payment_intent, amount=amount,
        currency=currency, status=status, reason=reason, created=now_or(created),
    )
    if due_by is None:
        due_by = int(time.time()) + 7 * 86400
    stripe_dispute["evidence_details"]["due_by"] = due_by
    return stripe_dispute


def charge_child(fixture_name, object_id, **fields):
    """Return a refund or dispute fixture with its id and the fields that tie it to a charge."""
    stripe_object = fixture(fixture_name)
    stripe_object.update(id=object_id, **fields)
    return stripe_object


def subscription(subscription_id="sub_test_A", *, customer="cus_test_A", status="active"):
    stripe_subscription = fixture("subscription")
    stripe_subscription.update(id=subscription_id, customer=customer, status=status)
    return stripe_subscription


def invoice(
    invoice_id="in_test_A",
    *,
    subscription="sub_test_A",
    customer="cus_test_A",
    amount=14900,
    currency="gbp",
    paid=True,
    billing_reason="subscription_cycle",
    attempt_count=1,
    created=None,
):
    """Return a subscription invoice, paid or still open after a failed attempt."""
    stripe_invoice = fixture("invoice")
    stripe_invoice.update(
        id=invoice_id,
        customer=customer,
        currency=currency,
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        attempted=True,
        attempt_count=attempt_count,
        billing_reason=billing_reason,
        status="paid" if paid else "open",
        created=now_or(created),
        parent={
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": subscription},
            "type": "subscription_details",
        },
    )
    return stripe_invoice


def event(event_type, stripe_object, *, event_id=None, created=None):
    """Wrap a Stripe object in an event of the given type, as Stripe delivers it."""
    stripe_event = fixture("event")
    stripe_event.update(
        id=event_id or random_id("evt"),
        type=event_type,
        api_version=settings.STRIPE_API_VERSION,
        created=now_or(created),
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
