"""Fulfilment: each Checkout Session becomes exactly one order.

apply_checkout() is idempotent and safe under concurrency. The unique
stripe_checkout_session_id decides which of two racing deliveries creates the
order. The losing insert raises IntegrityError, and that delivery then locks
and reads the committed order instead.
The order's status only moves forward, so late, repeated or out-of-order
events change nothing once a payment outcome is known. Lifecycle events that
arrived before the order (a subscription created before its session
completed, a refund of a session whose webhook was lost) are applied once it
exists.
"""

import enum
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .catalogue import match_session
from .checkout import CheckoutSession, InvalidCheckoutSession
from .lifecycle import apply_unmatched_events
from .models import DFYOrder
from .signals import order_paid, payment_problem

logger = logging.getLogger(__name__)

Status = DFYOrder.Status

CHECKOUT_COMPLETED = "checkout.session.completed"
ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"
ASYNC_PAYMENT_FAILED = "checkout.session.async_payment_failed"
CHECKOUT_EVENT_TYPES = (CHECKOUT_COMPLETED, ASYNC_PAYMENT_SUCCEEDED, ASYNC_PAYMENT_FAILED)

# "no_payment_required" is a session fully paid by a discount: fulfil it, and
# the zero amount sends it to review against the catalogue price.
PAID_PAYMENT_STATUSES = {"paid", "no_payment_required"}

# Statuses that still wait for the payment outcome; every other status has one.
OPEN_STATUSES = {Status.AWAITING_PAYMENT}


class Outcome(enum.Enum):
    PAID = "paid"
    UNPAID = "unpaid"
    FAILED = "failed"


def outcome_of(event_type, session):
    if event_type == ASYNC_PAYMENT_FAILED:
        return Outcome.FAILED
    if event_type == ASYNC_PAYMENT_SUCCEEDED:
        return Outcome.PAID
    return Outcome.PAID if session.payment_status in PAID_PAYMENT_STATUSES else Outcome.UNPAID


def handle_checkout_event(event_type, data, stripe_event_id):
    """Apply one checkout.session.* event; return the order, or None if the payload is no session."""
    try:
        session = CheckoutSession.from_stripe(data)
    except InvalidCheckoutSession as exc:
        # Retrying cannot fix the payload, so it is acknowledged; the raw
        # request stays in dj-stripe's WebhookEventTrigger for staff.
        logger.warning("Ignored %s event %s: %s", event_type, stripe_event_id, exc)
        return None

    return apply_checkout(session, outcome_of(event_type, session), event_type, stripe_event_id)


@transaction.atomic
def apply_checkout(session, outcome, event_type, stripe_event_id):
    order = locked_order(session.id)
    if order is None:
        order = create_order(session, outcome, event_type, stripe_event_id)
        if order is not None:
            apply_unmatched_events(order)
            return order
        # Another delivery created it between our read and our insert.
        order = locked_order(session.id)

    update_order(order, session, outcome, event_type, stripe_event_id)
    apply_unmatched_events(order)
    return order


def locked_order(session_id):
    return DFYOrder.objects.select_for_update().filter(stripe_checkout_session_id=session_id).first()


def create_order(session, outcome, event_type, stripe_event_id):
    """Insert the order for a session; return None when a concurrent delivery won the insert."""
    order = DFYOrder(stripe_checkout_session_id=session.id)
    copy_session_facts(order, session)
    match = match_session(session)
    copy_match(order, match)

    if outcome is Outcome.PAID:
        mark_paid(order, match)
    elif outcome is Outcome.FAILED:
        order.status = Status.PAYMENT_FAILED

    try:
        with transaction.atomic():
            order.save()
    except IntegrityError:
        if DFYOrder.objects.filter(stripe_checkout_session_id=session.id).exists():
            logger.info("Order for session %s was created by a concurrent delivery", session.id)
            return None
        raise

    logger.info(
        "Order %s created for session %s with status %s",
        order.pk,
        session.id,
        order.status,
        extra={"order_id": order.pk, "checkout_session_id": session.id, "stripe_event_id": stripe_event_id},
    )
    order.record(
        "order.created",
        f"Order created from {event_type} with payment status {session.payment_status or '(none)'}.",
        data={"metadata": session.metadata},
        stripe_event_id=stripe_event_id,
    )
    announce_status(order, session, match, stripe_event_id)
    return order


def update_order(order, session, outcome, event_type, stripe_event_id):
    if outcome is Outcome.UNPAID or order.status not in OPEN_STATUSES:
        # Repeated, late or out-of-order: the order already has this outcome
        # or a later one, and a status never moves back.
        logger.info("Event %s left order %s unchanged in status %s", stripe_event_id, order.pk, order.status)
        order.record(
            "stripe.event_ignored",
            f"{event_type} changed nothing: the order is already {order.get_status_display().lower()}.",
            data={"payment_status": session.payment_status},
            stripe_event_id=stripe_event_id,
        )
        return

    copy_session_facts(order, session)
    match = match_session(session)
    copy_match(order, match)
    if outcome is Outcome.PAID:
        mark_paid(order, match)
    else:
        order.status = Status.PAYMENT_FAILED

    order.save()
    logger.info("Order %s moved to %s by event %s", order.pk, order.status, stripe_event_id)
    announce_status(order, session, match, stripe_event_id)


def copy_session_facts(order, session):
    order.stripe_payment_intent_id = session.payment_intent_id or order.stripe_payment_intent_id
    order.stripe_customer_id = session.customer_id or order.stripe_customer_id
    order.stripe_subscription_id = session.subscription_id or order.stripe_subscription_id
    order.customer_email = session.customer_email or order.customer_email
    order.customer_name = session.customer_name or order.customer_name
    order.amount_total = session.amount_total
    order.currency = session.currency
    order.livemode = session.livemode
    order.payment_status = session.payment_status


def copy_match(order, match):
    # The metadata as sent, cut to the columns; the activity log keeps it whole.
    order.mode = match.mode[:64]
    order.plan = match.plan_slug[:64]
    order.term = match.term[:64]
    order.catalogue_plan = match.plan
    order.tier = match.plan.tier if match.plan else ""


def mark_paid(order, match):
    now = timezone.now()
    order.paid_at = now

    if not match.ok:
        order.status = Status.NEEDS_REVIEW
        order.review_reason = "; ".join(match.problems)
        return

    order.status = Status.NEW
    apply_plan(order, match.plan, now)


def apply_plan(order, plan, now):
    """Put an order on a catalogue plan before it becomes "new": its deadline and revisions start now."""
    order.catalogue_plan = plan
    order.tier = plan.tier
    order.intake_state = DFYOrder.IntakeState.REQUESTED
    order.review_reason = ""
    order.revisions_left = plan.revisions
    if plan.delivery_hours:
        order.deadline = now + timedelta(hours=plan.delivery_hours)


def announce_status(order, session, match, stripe_event_id):
    """Record the order's new status and, for a matched paid order, send order_paid."""
    if order.status == Status.NEW:
        announce_paid(order, stripe_event_id)
    elif order.status == Status.NEEDS_REVIEW:
        logger.warning("Order %s needs review: %s", order.pk, order.review_reason)
        order.record(
            "order.needs_review",
            f"Payment received but the order needs review: {order.review_reason}.",
            data={"metadata": session.metadata, "problems": list(match.problems)},
            stripe_event_id=stripe_event_id,
        )
        report_problem(order, "needs_review", f"Order needs review: {order.review_reason}.", stripe_event_id)
    elif order.status == Status.PAYMENT_FAILED:
        order.record(
            "payment.failed",
            "The delayed payment failed; no onboarding was started.",
            stripe_event_id=stripe_event_id,
        )
        report_problem(order, "payment_failed", "The delayed payment failed.", stripe_event_id)
    elif order.status == Status.AWAITING_PAYMENT:
        order.record(
            "payment.pending",
            "Checkout completed; waiting for the delayed payment to clear before onboarding.",
            stripe_event_id=stripe_event_id,
        )


def announce_paid(order, stripe_event_id="", actor=None):
    """Record that a "new" order is paid and send order_paid, which starts its onboarding.

    The fulfilment path and staff resolving a review both come through here,
    so onboarding starts the same way whichever path made the order "new".
    """
    order.record(
        "order.paid",
        f"Payment received: {order.amount_display} for {order.tier}.",
        stripe_event_id=stripe_event_id,
        actor=actor,
    )
    order_paid.send(sender=DFYOrder, order=order, stripe_event_id=stripe_event_id)


def report_problem(order, problem, message, stripe_event_id=""):
    """Send payment_problem for an order; receivers run inside the caller's transaction."""
    payment_problem.send(
        sender=DFYOrder, order=order, problem=problem, message=message, stripe_event_id=stripe_event_id
    )
