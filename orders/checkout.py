"""The parts of a Stripe Checkout Session that fulfilment reads.

Webhook payloads are normalised here, at the edge, so the service never reads
raw Stripe dictionaries.
"""

from dataclasses import dataclass, field


class InvalidCheckoutSession(ValueError):
    """The event's object is not a Checkout Session we can key an order on."""


def stripe_id(value):
    """Return the id of a Stripe reference, which is either an id or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def text(value):
    return value.strip() if isinstance(value, str) else ""


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
        if not isinstance(session_id, str) or not session_id.startswith("cs_"):
            raise InvalidCheckoutSession(f"invalid Checkout Session id {session_id!r}")

        details = data.get("customer_details") if isinstance(data.get("customer_details"), dict) else {}
        amount = data.get("amount_total")
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}

        return cls(
            id=session_id,
            stripe_mode=text(data.get("mode")),
            status=text(data.get("status")),
            payment_status=text(data.get("payment_status")),
            amount_total=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            currency=text(data.get("currency")).lower(),
            # customer_email is only the address the integration pre-filled;
            # customer_details.email is what the buyer confirmed at checkout.
            customer_email=text(details.get("email")) or text(data.get("customer_email")),
            customer_name=text(details.get("name")),
            customer_id=stripe_id(data.get("customer")),
            payment_intent_id=stripe_id(data.get("payment_intent")),
            subscription_id=stripe_id(data.get("subscription")),
            livemode=data.get("livemode") is True,
            metadata={str(key): str(value) for key, value in metadata.items()},
        )
