"""Signed, expiring links to an order's intake form.

The token is django.core.signing output: the order id and Checkout Session id,
timestamped and signed with SECRET_KEY under a salt used for nothing else.
It cannot be guessed or altered without the key, and it expires after
INTAKE_LINK_MAX_AGE_DAYS.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from orders.models import DFYOrder

logger = logging.getLogger(__name__)

SALT = "levqor.onboarding.intake-link"


class InvalidIntakeLink(Exception):
    """The token was altered, signed with another key, or names no order."""


class ExpiredIntakeLink(InvalidIntakeLink):
    """The token is genuine but older than INTAKE_LINK_MAX_AGE_DAYS."""


def make_token(order):
    return signing.dumps({"order": order.pk, "session": order.stripe_checkout_session_id}, salt=SALT)


def intake_url(order):
    return settings.PUBLIC_BASE_URL + reverse("onboarding:intake", args=[make_token(order)])


def order_for_token(token):
    """Return the order a token names; raise ExpiredIntakeLink or InvalidIntakeLink."""
    max_age = timedelta(days=settings.INTAKE_LINK_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise ExpiredIntakeLink("The intake link has expired.") from None
    except signing.BadSignature:
        raise InvalidIntakeLink("The intake link has an invalid signature.") from None

    if not isinstance(data, dict):
        raise InvalidIntakeLink("The intake link does not name an order.")
    order = DFYOrder.objects.filter(pk=data.get("order"), stripe_checkout_session_id=data.get("session")).first()
    if order is None:
        raise InvalidIntakeLink("The intake link names no existing order.")
    return order
