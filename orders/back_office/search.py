"""Search of the order list: whole Stripe ids and email addresses go to their indexed column."""

import re

from django.db.models import Q

# A Stripe id's prefix names its object, so a pasted id needs one indexed
# equality test rather than a LIKE over every text column.
STRIPE_ID_COLUMNS = {
    "cs": "stripe_checkout_session_id",
    "pi": "stripe_payment_intent_id",
    "cus": "stripe_customer_id",
    "sub": "stripe_subscription_id",
}
STRIPE_ID = re.compile(r"(cs|pi|cus|sub)_[A-Za-z0-9_]+")
WHOLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def exact_match(term):
    """Return the filter for a whole Stripe id or email address, or None for any other search term."""
    term = term.strip()
    stripe_id = STRIPE_ID.fullmatch(term)
    if stripe_id:
        # Stripe ids are case-sensitive.
        return Q(**{STRIPE_ID_COLUMNS[stripe_id.group(1)]: term})
    if WHOLE_EMAIL.fullmatch(term):
        return Q(customer_email__iexact=term)
    return None
