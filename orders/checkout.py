"""The parts of a Stripe Checkout Session that fulfilment reads.

Webhook payloads are normalised here, at the edge, so the service never reads
raw Stripe dictionaries.
"""

import re
from dataclasses import dataclass, field

# Bounds that keep a malformed payload from failing the database insert,
# which would return 500 and make Stripe retry a payload that cannot succeed.
MAX_ID_LENGTH = 255
MAX_TEXT_LENGTH = 255
MAX_EMAIL_LENGTH = 254
MAX_AMOUNT = 10**12
CURRENCY_CODE = re.compile(r"^[a-z]{3}$")
# Stripe accepts metadata keys of up to 40 and values of up to 500 characters
# (https://docs.stripe.com/metadata), so real sessions are kept whole.
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500


class InvalidCheckoutSession(ValueError):
    """The event's object is not a Checkout Session we can key an order on."""


def stripe_id(value):
    """Return the id of a Stripe reference, which is either an id or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and len(value) <= MAX_ID_LENGTH else ""


def text(value, max_length=MAX_TEXT_LENGTH):
    return value.strip()[:max_length] if isinstance(value, str) else ""


def email_address(value):
    """Return the address, or "" when it cannot be one (a cut address would be a wrong one)."""
    address = text(value, max_length=MAX_EMAIL_LENGTH + 1)
    return address if "@" in address and len(address) <= MAX_EMAIL_LENGTH else ""


def amount(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_AMOUNT:
        return None
    return value


def currency_code(value):
    code = text(value).lower()
    return code if CURRENCY_CODE.match(code) else ""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    stripe_mode: str
    status: str
    payment_status: str
    amount_total: int | None
    currency: str
    customer_email: str
    customer_name: str
    customer_id: str
    payment_intent_id: str
    subscription_id: str
    livemode: bool
    metadata: dict = field(default_factory=dict)

    @classmethod
    def from_stripe(cls, data):
        if not isinstance(data, dict) or data.get("object") != "checkout.session":
            raise InvalidCheckoutSession("object is not a checkout.session")

        session_id = data.get("id")
        if not isinstance(session_id, str) or not session_id.startswith("cs_") or len(session_id) > MAX_ID_LENGTH:
            raise InvalidCheckoutSession(f"invalid Checkout Session id {session_id!r}")

        details = data.get("customer_details") if isinstance(data.get("customer_details"), dict) else {}
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}

        return cls(
            id=session_id,
            stripe_mode=text(data.get("mode")),
            status=text(data.get("status")),
            payment_status=text(data.get("payment_status")),
            amount_total=amount(data.get("amount_total")),
            currency=currency_code(data.get("currency")),
            # customer_email is only the address the integration pre-filled;
            # customer_details.email is what the buyer confirmed at checkout.
            customer_email=email_address(details.get("email")) or email_address(data.get("customer_email")),
            customer_name=text(details.get("name")),
            customer_id=stripe_id(data.get("customer")),
            payment_intent_id=stripe_id(data.get("payment_intent")),
            subscription_id=stripe_id(data.get("subscription")),
            livemode=data.get("livemode") is True,
            metadata={
                str(key)[:MAX_METADATA_KEY_LENGTH]: str(value)[:MAX_METADATA_VALUE_LENGTH]
                for key, value in metadata.items()
            },
        )
