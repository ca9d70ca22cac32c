"""The payment lifecycle after checkout: route each refund, dispute, subscription and invoice event to its order.

An event finds its order through the Stripe ids stored on it: payment
intent, subscription, a charge already recorded, or the customer when only
one order has it. An event that matches no order is stored as an
UnmatchedStripeEvent for staff and acknowledged. It is applied as soon as an
order matches: when fulfilment creates or updates an order, when another
event for the order records a charge it names, and on every run of
manage.py reconcile_checkouts.
"""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import disputes, refunds, subscriptions
from .models import DFYOrder, PaymentRecord, UnmatchedStripeEvent
from .stripe_objects import Charge, Dispute, EventInfo, InvalidStripeObject, Invoice, Refund, Subscription

logger = logging.getLogger(__name__)

# Event type -> (the object it carries, the function that applies it to an order).
HANDLERS = {
    "charge.refunded": (Charge, refunds.apply_charge),
    "refund.created": (Refund, refunds.apply_refund),
    "refund.updated": (Refund, refunds.apply_refund),
    "charge.dispute.created": (Dispute, disputes.apply_dispute),
    "charge.dispute.updated": (Dispute, disputes.apply_dispute),
    "charge.dispute.closed": (Dispute, disputes.apply_dispute),
    "customer.subscription.created": (Subscription, subscriptions.apply_subscription),
    "customer.subscription.updated": (Subscription, subscriptions.apply_subscription),
    "customer.subscription.deleted": (Subscription, subscriptions.apply_subscription),
    "customer.subscription.paused": (Subscription, subscriptions.apply_subscription),
    "customer.subscription.resumed": (Subscription, subscriptions.apply_subscription),
    "invoice.paid": (Invoice, subscriptions.apply_invoice),
    "invoice.payment_failed": (Invoice, subscriptions.apply_invoice),
}
LIFECYCLE_EVENT_TYPES = tuple(HANDLERS)


@transaction.atomic
def handle_lifecycle_event(event_type, data, stripe_event_id, created=None):
    """Apply one lifecycle event to its order; return the order, or None when it is invalid or unmatched."""
    event = EventInfo(stripe_event_id, event_type, created or timezone.now())
    object_class, apply = HANDLERS[event_type]
    try:
        stripe_object = object_class.from_stripe(data)
    except InvalidStripeObject as exc:
        # Retrying cannot fix the payload, so it is acknowledged; the raw
        # request stays in dj-stripe's WebhookEventTrigger for staff.
        logger.warning("Ignored %s event %s: %s", event_type, stripe_event_id, exc)
        return None

    order, reason = locked_order_for(stripe_object.keys)
    if order is None:
        store_unmatched(event, stripe_object, data, reason)
        return None

    apply(order, stripe_object, event)
    # A charge recorded just now can be the key a stored refund or dispute was waiting for.
    apply_unmatched_events(order)
    return order


def locked_order_for(keys):
    """Lock and return (order, None) for the order these ids lead to, or (None, why none matched)."""
    orders = DFYOrder.objects.select_for_update()
    if keys.payment_intent_id:
        order = orders.filter(stripe_payment_intent_id=keys.payment_intent_id).first()
        if order is not None:
            return order, None
    if keys.subscription_id:
        order = orders.filter(stripe_subscription_id=keys.subscription_id).first()
        if order is not None:
            return order, None
    if keys.charge_id:
        record = PaymentRecord.objects.filter(stripe_charge_id=keys.charge_id).first()
        if record is not None:
            return orders.get(pk=record.order_id), None
    if keys.customer_id:
        # A customer with several orders is no key: the refund or invoice
        # could belong to any of them.
        candidates = list(orders.filter(stripe_customer_id=keys.customer_id)[:2])
        if len(candidates) == 1:
            return candidates[0], None
        if candidates:
            return None, f"customer {keys.customer_id} has several orders and no other id chooses one"
    return None, f"no order has {keys.describe()}"


def store_unmatched(event, stripe_object, data, reason):
    logger.warning("Stripe event %s (%s) matched no order: %s", event.id, event.type, reason)
    keys = stripe_object.keys
    UnmatchedStripeEvent.objects.get_or_create(
        stripe_event_id=event.id,
        defaults={
            "event_type": event.type,
            "event_created": event.created,
            "stripe_object_id": stripe_object.id,
            "payment_intent_id": keys.payment_intent_id,
            "customer_id": keys.customer_id,
            "subscription_id": keys.subscription_id,
            "charge_id": keys.charge_id,
            "reason": reason,
            "stripe_object": data,
        },
    )


def apply_unmatched_events(order):
    """Apply the stored unmatched events that now match this order, oldest first; return how many.

    Runs inside the caller's transaction, which holds the order's lock. A
    refund stored with only a charge id matches once a charge.refunded for
    that charge is applied, so the search repeats until a round applies nothing.
    """
    applied = 0
    while True:
        round_applied = sum(1 for unmatched_id in waiting_event_ids(order) if apply_unmatched(unmatched_id))
        if not round_applied:
            break
        applied += round_applied

    if applied:
        # The events were applied to a fresh instance of the order; the caller's is stale.
        order.refresh_from_db()
    return applied


def waiting_event_ids(order):
    ids = Q()
    if order.stripe_payment_intent_id:
        ids |= Q(payment_intent_id=order.stripe_payment_intent_id)
    if order.stripe_subscription_id:
        ids |= Q(subscription_id=order.stripe_subscription_id)
    if order.stripe_customer_id:
        ids |= Q(customer_id=order.stripe_customer_id)
    # A subquery, so that the search is one query: it runs in every webhook
    # that creates an order, where the order has no payment records yet.
    ids |= Q(charge_id__in=order.payment_records.exclude(stripe_charge_id="").values("stripe_charge_id"))
    waiting = UnmatchedStripeEvent.objects.filter(ids, order__isnull=True).order_by("event_created", "id")
    return list(waiting.values_list("id", flat=True))


def apply_unmatched(unmatched_id):
    """Apply one stored event if an order matches it now; return the order or None.

    The order is locked before the stored row, the same sequence as in
    fulfilment, so the two do not wait on each other's locks in a cycle.
    """
    unmatched = UnmatchedStripeEvent.objects.get(pk=unmatched_id)
    object_class, apply = HANDLERS[unmatched.event_type]
    stripe_object = object_class.from_stripe(unmatched.stripe_object)
    order, _ = locked_order_for(stripe_object.keys)
    if order is None:
        return None
    unmatched = UnmatchedStripeEvent.objects.select_for_update().filter(pk=unmatched_id, order__isnull=True).first()
    if unmatched is None:
        # Another transaction applied it while this one waited for the order.
        return None

    event = EventInfo(unmatched.stripe_event_id, unmatched.event_type, unmatched.event_created)
    logger.info("Applying event %s to order %s, which matches it now", event.id, order.pk)
    order.record(
        "stripe.event_matched",
        f"{event.type} arrived before a matching order and is applied now.",
        stripe_event_id=event.id,
    )
    apply(order, stripe_object, event)
    unmatched.order = order
    unmatched.resolved_at = timezone.now()
    unmatched.save(update_fields=["order", "resolved_at"])
    return order


def retry_unmatched_events():
    """Apply every stored unmatched event that an order matches now, each in its own transaction; return how many."""
    waiting = UnmatchedStripeEvent.objects.filter(order__isnull=True).order_by("event_created", "id")
    applied = 0
    for unmatched_id in list(waiting.values_list("id", flat=True)):
        with transaction.atomic():
            if apply_unmatched(unmatched_id) is not None:
                applied += 1
    return applied
