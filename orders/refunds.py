"""Refunds: keep an order's refunded amount and status true to Stripe's charges and refunds.

Two kinds of event report refunds. charge.refunded carries the charge with
amount_refunded, Stripe's running total for that charge. refund.created and
refund.updated carry one refund with its own amount and status. Either may
arrive late, twice or alone, so the order's total is recomputed from the
stored records each time instead of being added to.
"""

from collections import defaultdict

from .models import DFYOrder, PaymentRecord
from .money import format_amount
from .payment_changes import alert_staff, move_order, note_ignored, update_record

Status = DFYOrder.Status
Kind = PaymentRecord.Kind

# Refund statuses that count as money returned. Refund.status in stripe-python
# 15.6.2 lists these and "failed" and "canceled", which do not count.
LIVE_REFUND_STATUSES = frozenset({"pending", "requires_action", "succeeded"})
# Paid orders at any stage of the work, and disputed ones.
REFUNDABLE_STATUSES = frozenset(
    {Status.NEW, Status.NEEDS_REVIEW, Status.INTAKE_RECEIVED, Status.IN_PROGRESS, Status.DELIVERED, Status.DISPUTED}
)


def apply_refund(order, refund, event):
    record, changed = update_refund_record(order, refund, event)
    if not changed:
        note_ignored(order, event, f"refund {refund.id} already has this or a newer state ({record.status})")
        return

    amount = format_amount(refund.amount, refund.currency)
    settle_refunds(order, event, f"Refund {refund.id} of {amount} is {refund.status or 'without status'}")


def apply_charge(order, charge, event):
    changed = update_charge_record(order, charge, event)
    for refund in charge.refunds:
        _, refund_changed = update_refund_record(order, refund, event, charge_id=charge.id)
        changed = changed or refund_changed

    if not changed:
        note_ignored(order, event, f"charge {charge.id} already has this or a newer refunded total")
        return

    refunded = format_amount(charge.amount_refunded, charge.currency)
    settle_refunds(order, event, f"Charge {charge.id} reports {refunded} refunded")


def update_refund_record(order, refund, event, charge_id=""):
    """Store the refund's amount and status; return (record, whether it changed)."""
    record, _, changed = update_record(
        order,
        Kind.REFUND,
        refund.id,
        event,
        amount=refund.amount,
        currency=refund.currency,
        status=refund.status,
        reason=refund.reason,
        stripe_charge_id=refund.charge_id or charge_id,
        stripe_created=refund.created,
    )
    return record, changed


def update_charge_record(order, charge, event):
    """Store the charge's refunded total; return whether the record changed."""
    amount_refunded = charge.amount_refunded
    existing = PaymentRecord.objects.filter(kind=Kind.CHARGE, stripe_id=charge.id).first()
    if existing is not None and existing.stripe_event_created == event.created:
        # Two charge.refunded events in the same second cannot be ordered by
        # time, and the running total only falls when a refund fails, which
        # refund.updated reports. So the larger total is the later one.
        amount_refunded = max(amount_refunded, existing.amount_refunded)

    _, _, changed = update_record(
        order,
        Kind.CHARGE,
        charge.id,
        event,
        amount=charge.amount,
        amount_refunded=amount_refunded,
        currency=charge.currency,
        status=charge.status,
        stripe_charge_id=charge.id,
        stripe_created=charge.created,
    )
    return changed


def refunded_total(order):
    """Return the minor units refunded on this order, from its charge and refund records.

    For each charge the total is the larger of two views: the live refunds we
    know of, and the charge's own running total minus refunds that failed
    after that total was reported. Records in another currency than the
    order's are kept for staff but not added.
    """
    records = order.payment_records.filter(kind__in=[Kind.CHARGE, Kind.REFUND], currency=order.currency)
    charges = {}
    refunds_by_charge = defaultdict(list)
    for record in records:
        if record.kind == Kind.CHARGE:
            charges[record.stripe_id] = record
        else:
            refunds_by_charge[record.stripe_charge_id].append(record)

    total = 0
    for charge_id in charges.keys() | refunds_by_charge.keys():
        refunds = refunds_by_charge.get(charge_id, [])
        live = sum(refund.amount or 0 for refund in refunds if refund.status in LIVE_REFUND_STATUSES)
        charge = charges.get(charge_id)
        if charge is None:
            total += live
            continue
        withdrawn = sum(refund.amount or 0 for refund in refunds if failed_after_snapshot(refund, charge))
        total += max(live, charge.amount_refunded - withdrawn)
    return total


def failed_after_snapshot(refund, charge):
    """Return whether the charge's running total still counts a refund that has since failed."""
    if refund.status in LIVE_REFUND_STATUSES or refund.stripe_created is None:
        return False
    return refund.stripe_created <= charge.stripe_event_created <= refund.stripe_event_created


def settle_refunds(order, event, change):
    """Recompute the order's refunded amount after a refund or charge changed, and act on the result."""
    previous = order.amount_refunded
    total = refunded_total(order)
    order.amount_refunded = total
    summary = (
        f"{change}: {format_amount(total, order.currency)} of "
        f"{format_amount(order.amount_total, order.currency)} refunded."
    )

    if total > previous:
        full = order.amount_total is not None and total >= order.amount_total
        if not full:
            order.record("payment.partially_refunded", f"Partial refund. {summary}", stripe_event_id=event.id)
        elif order.status == Status.REFUNDED:
            order.record("payment.refunded", f"Refund on a refunded order. {summary}", stripe_event_id=event.id)
        else:
            move_order(
                order, Status.REFUNDED, REFUNDABLE_STATUSES, event, kind="order.refunded",
                message=f"Fully refunded. {summary}",
            )
        alert_staff(order, "refund", summary, event)
    elif total < previous:
        message = f"Refunded amount fell from {format_amount(previous, order.currency)}. {summary}"
        if order.status == Status.REFUNDED:
            # Reopening an order is a decision for staff, not for a webhook.
            message += " The order stays refunded; check the refund in Stripe."
        order.record("payment.refund_reversed", message, stripe_event_id=event.id)
        alert_staff(order, "refund_reversed", message, event)
    else:
        order.record("payment.refund_updated", summary, stripe_event_id=event.id)

    order.save()
