"""Subscriptions: show a subscription order's Stripe state and log its invoices and renewals.

customer.subscription.* events carry the subscription's status, which is
authoritative. invoice.paid and invoice.payment_failed imply a status too
(a paid invoice makes a past-due subscription active, a failed renewal makes
an active one past due). Both kinds are ordered by the Stripe event time, so
a late event never overwrites a newer status.
"""

import logging

from .models import DFYOrder, PaymentRecord
from .money import format_amount
from .payment_changes import alert_staff, note_ignored, update_record

logger = logging.getLogger(__name__)

SubscriptionStatus = DFYOrder.SubscriptionStatus

INVOICE_PAID = "invoice.paid"
# Stripe calls incomplete_expired terminal, and a cancelled subscription
# accepts no change but its cancellation details, so neither becomes active again.
FINAL_SUBSCRIPTION_STATUSES = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})
# Statuses a paid invoice ends; "" is an order whose subscription events have not arrived yet.
UNPAID_SUBSCRIPTION_STATUSES = frozenset(
    {"", SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID, SubscriptionStatus.INCOMPLETE}
)
BILLING_SUBSCRIPTION_STATUSES = frozenset({"", SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})
PAID_INVOICE = "paid"
FAILED_INVOICE = "payment_failed"


def subscription_label(status):
    return SubscriptionStatus(status).label.lower() if status in SubscriptionStatus.values else status or "unknown"


def apply_subscription(order, subscription, event):
    set_subscription_status(order, subscription.status, event, f"subscription {subscription.id}")


def set_subscription_status(order, status, event, source):
    """Set and save the order's subscription status unless a newer event already set it; return whether it changed."""
    current = order.subscription_status
    changed_at = order.subscription_status_changed_at
    if changed_at is not None and event.created < changed_at:
        note_ignored(order, event, f"a newer event already set the subscription to {subscription_label(current)}")
        return False
    if current in FINAL_SUBSCRIPTION_STATUSES and status not in FINAL_SUBSCRIPTION_STATUSES:
        note_ignored(order, event, f"the subscription is already {subscription_label(current)}")
        return False

    order.subscription_status_changed_at = event.created
    if status == current:
        # customer.subscription.updated also reports changes of items,
        # metadata or billing dates; only a status change is logged.
        logger.info("Event %s kept order %s's subscription %s", event.id, order.pk, status)
        order.save(update_fields=["subscription_status_changed_at", "updated_at"])
        return False

    if status not in SubscriptionStatus.values:
        logger.warning("Event %s reports unknown subscription status %s for order %s", event.id, status, order.pk)
    order.subscription_status = status
    order.record(
        "subscription.status_changed",
        f"The {source} is {subscription_label(status)} (was {subscription_label(current)}).",
        data={"from": current, "to": status},
        stripe_event_id=event.id,
    )
    order.save(update_fields=["subscription_status", "subscription_status_changed_at", "updated_at"])
    return True


def apply_invoice(order, invoice, event):
    paid = event.type == INVOICE_PAID
    record, _, changed = update_record(
        order,
        PaymentRecord.Kind.INVOICE,
        invoice.id,
        event,
        # A paid invoice stays paid, so a late payment_failed for it is stale.
        final_statuses={PAID_INVOICE},
        amount=invoice.amount_paid if paid else invoice.amount_due,
        currency=invoice.currency,
        status=PAID_INVOICE if paid else FAILED_INVOICE,
        reason=invoice.billing_reason,
        stripe_created=invoice.created,
    )
    if not changed:
        note_ignored(order, event, f"invoice {invoice.id} already has this or a later state ({record.status})")
        return

    amount = format_amount(record.amount, record.currency)
    source = f"subscription {invoice.subscription_id or '(unknown)'}"
    if paid:
        if invoice.is_renewal:
            order.record("subscription.renewed", f"Renewal paid: {amount} (invoice {invoice.id}).", stripe_event_id=event.id)
        else:
            order.record(
                "subscription.invoice_paid",
                f"Invoice {invoice.id} paid: {amount} (billing reason {invoice.billing_reason or 'not given'}).",
                stripe_event_id=event.id,
            )
        if order.subscription_status in UNPAID_SUBSCRIPTION_STATUSES:
            set_subscription_status(order, SubscriptionStatus.ACTIVE, event, source)
    else:
        message = f"Payment of invoice {invoice.id} for {amount} failed (attempt {invoice.attempt_count or 1})."
        order.record("subscription.payment_failed", message, stripe_event_id=event.id)
        if invoice.is_renewal and order.subscription_status in BILLING_SUBSCRIPTION_STATUSES:
            set_subscription_status(order, SubscriptionStatus.PAST_DUE, event, source)
        alert_staff(order, "invoice_payment_failed", message, event)
