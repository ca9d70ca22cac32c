"""The parts of Stripe charges, refunds, disputes, subscriptions and invoices that the lifecycle reads.

Like orders.checkout for sessions, this normalises webhook payloads at the
edge, so orders.lifecycle and its helpers never read raw Stripe dictionaries.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from .checkout import MAX_ID_LENGTH, amount, currency_code, stripe_id, text

# The closed dispute statuses, of those listed for Dispute.status in
# stripe-python 15.6.2. An unknown status counts as open, so the order stays
# disputed until staff look.
CLOSED_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed", "prevented"})
LOST_DISPUTE_STATUS = "lost"


class InvalidStripeObject(ValueError):
    """The event's object is not the Stripe object its event type promises."""


def timestamp(value):
    """Return a Unix timestamp as an aware UTC datetime, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def checked_id(data, object_type, prefix):
    if not isinstance(data, dict) or data.get("object") != object_type:
        raise InvalidStripeObject(f"object is not a {object_type}")

    object_id = data.get("id")
    if not isinstance(object_id, str) or not object_id.startswith(prefix) or len(object_id) > MAX_ID_LENGTH:
        raise InvalidStripeObject(f"invalid {object_type} id {object_id!r}")
    return object_id


def charge_child_fields(data):
    """Return the fields refunds and disputes share: the money, its status and the charge it belongs to."""
    return {
        "amount": amount(data.get("amount")),
        "currency": currency_code(data.get("currency")),
        "status": text(data.get("status"), 64),
        "reason": text(data.get("reason"), 64),
        "charge_id": stripe_id(data.get("charge")),
        "payment_intent_id": stripe_id(data.get("payment_intent")),
        "created": timestamp(data.get("created")),
    }


@dataclass(frozen=True)
class EventInfo:
    """The event that carried an object: its id, type and Stripe's creation time."""

    id: str
    type: str
    created: datetime


@dataclass(frozen=True)
class OrderKeys:
    """The Stripe ids an object carries that can lead to an order."""

    payment_intent_id: str = ""
    subscription_id: str = ""
    charge_id: str = ""
    customer_id: str = ""

    def describe(self):
        named = [f"{name} {value}" for name, value in self.named() if value]
        return ", ".join(named) or "no payment intent, subscription, charge or customer id"

    def named(self):
        return [
            ("payment intent", self.payment_intent_id),
            ("subscription", self.subscription_id),
            ("charge", self.charge_id),
            ("customer", self.customer_id),
        ]


@dataclass(frozen=True)
class Refund:
    id: str
    amount: int | None
    currency: str
    status: str
    reason: str
    charge_id: str
    payment_intent_id: str
    customer_id: str
    created: datetime | None

    @classmethod
    def from_stripe(cls, data):
        return cls(
            id=checked_id(data, "refund", "re_"),
            customer_id=stripe_id(data.get("customer")),
            **charge_child_fields(data),
        )

    @property
    def keys(self):
        return OrderKeys(
            payment_intent_id=self.payment_intent_id, charge_id=self.charge_id, customer_id=self.customer_id
        )


@dataclass(frozen=True)
class Charge:
    id: str
    amount: int | None
    amount_refunded: int
    currency: str
    status: str
    payment_intent_id: str
    customer_id: str
    created: datetime | None
    # Present only when the payload includes charge.refunds, which Stripe
    # stopped expanding by default in API version 2022-11-15.
    refunds: tuple[Refund, ...] = ()

    @classmethod
    def from_stripe(cls, data):
        charge_id = checked_id(data, "charge", "ch_")
        refund_list = data.get("refunds") if isinstance(data.get("refunds"), dict) else {}
        refund_data = refund_list.get("data") if isinstance(refund_list.get("data"), list) else []

        return cls(
            id=charge_id,
            amount=amount(data.get("amount")),
            amount_refunded=amount(data.get("amount_refunded")) or 0,
            currency=currency_code(data.get("currency")),
            status=text(data.get("status"), 64),
            payment_intent_id=stripe_id(data.get("payment_intent")),
            customer_id=stripe_id(data.get("customer")),
            created=timestamp(data.get("created")),
            refunds=tuple(Refund.from_stripe(refund) for refund in refund_data),
        )

    @property
    def keys(self):
        return OrderKeys(payment_intent_id=self.payment_intent_id, charge_id=self.id, customer_id=self.customer_id)


@dataclass(frozen=True)
class Dispute:
    id: str
    amount: int | None
    currency: str
    status: str
    reason: str
    charge_id: str
    payment_intent_id: str
    evidence_due_by: datetime | None
    created: datetime | None

    @classmethod
    def from_stripe(cls, data):
        dispute_id = checked_id(data, "dispute", "dp_")
        evidence = data.get("evidence_details") if isinstance(data.get("evidence_details"), dict) else {}

        return cls(
            id=dispute_id,
            evidence_due_by=timestamp(evidence.get("due_by")),
            **charge_child_fields(data),
        )

    @property
    def is_closed(self):
        return self.status in CLOSED_DISPUTE_STATUSES

    @property
    def is_lost(self):
        return self.status == LOST_DISPUTE_STATUS

    @property
    def keys(self):
        return OrderKeys(payment_intent_id=self.payment_intent_id, charge_id=self.charge_id)


@dataclass(frozen=True)
class Subscription:
    id: str
    status: str
    customer_id: str

    @classmethod
    def from_stripe(cls, data):
        return cls(
            id=checked_id(data, "subscription", "sub_"),
            status=text(data.get("status"), 32),
            customer_id=stripe_id(data.get("customer")),
        )

    @property
    def keys(self):
        return OrderKeys(subscription_id=self.id, customer_id=self.customer_id)


@dataclass(frozen=True)
class Invoice:
    id: str
    billing_reason: str
    amount_due: int | None
    amount_paid: int | None
    currency: str
    attempt_count: int | None
    customer_id: str
    subscription_id: str
    created: datetime | None

    @classmethod
    def from_stripe(cls, data):
        invoice_id = checked_id(data, "invoice", "in_")
        return cls(
            id=invoice_id,
            billing_reason=text(data.get("billing_reason"), 64),
            amount_due=amount(data.get("amount_due")),
            amount_paid=amount(data.get("amount_paid")),
            currency=currency_code(data.get("currency")),
            attempt_count=amount(data.get("attempt_count")),
            customer_id=stripe_id(data.get("customer")),
            subscription_id=invoice_subscription_id(data),
            created=timestamp(data.get("created")),
        )

    @property
    def is_renewal(self):
        return self.billing_reason == "subscription_cycle"

    @property
    def keys(self):
        return OrderKeys(subscription_id=self.subscription_id, customer_id=self.customer_id)


def invoice_subscription_id(data):
    """Return the invoice's subscription id from where the API version puts it.

    API version 2025-03-31.basil moved it from invoice.subscription to
    invoice.parent.subscription_details.subscription; older payloads keep the top-level field.
    """
    parent = data.get("parent") if isinstance(data.get("parent"), dict) else {}
    details = parent.get("subscription_details") if isinstance(parent.get("subscription_details"), dict) else {}
    return stripe_id(details.get("subscription")) or stripe_id(data.get("subscription"))
