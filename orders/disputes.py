"""Disputes: an order is disputed while a dispute is open, then goes back or counts as refunded.

The dispute's own status decides what an event means, not the event type,
so charge.dispute.closed arriving before charge.dispute.created still ends in
the right state. A closed dispute never reopens, so any later event that
reports it open is stale.
"""

from django.utils import timezone

from .models import DFYOrder, PaymentRecord
from .money import format_amount
from .stripe_objects import CLOSED_DISPUTE_STATUSES
from .payment_changes import alert_staff, move_order, note_ignored, status_label, update_record

Status = DFYOrder.Status

WORK_STATUSES = frozenset({Status.NEW, Status.INTAKE_RECEIVED, Status.IN_PROGRESS, Status.DELIVERED})
DISPUTABLE_STATUSES = WORK_STATUSES | {Status.NEEDS_REVIEW, Status.REFUNDED}
# A lost dispute takes the money back, also when its opening event never arrived.
LOSABLE_STATUSES = WORK_STATUSES | {Status.NEEDS_REVIEW, Status.DISPUTED}


def apply_dispute(order, dispute, event):
    record, previous_status, changed = update_record(
        order,
        PaymentRecord.Kind.DISPUTE,
        dispute.id,
        event,
        final_statuses=CLOSED_DISPUTE_STATUSES,
        amount=dispute.amount,
        currency=dispute.currency,
        status=dispute.status,
        reason=dispute.reason,
        stripe_charge_id=dispute.charge_id,
        evidence_due_by=dispute.evidence_due_by,
        stripe_created=dispute.created,
    )
    if not changed:
        note_ignored(order, event, f"dispute {dispute.id} already has this or a later state ({record.status})")
        return

    if dispute.is_closed:
        close_dispute(order, dispute, event)
    elif previous_status is None:
        open_dispute(order, dispute, event)
    else:
        order.dispute_evidence_due_by = dispute.evidence_due_by
        order.record(
            "payment.dispute_updated",
            f"Dispute {dispute.id} is {dispute.status}; evidence due by {due_by_text(dispute)}.",
            stripe_event_id=event.id,
        )
    order.save()


def open_dispute(order, dispute, event):
    amount = format_amount(dispute.amount, dispute.currency)
    message = (
        f"Dispute {dispute.id} opened for {amount} (reason: {dispute.reason or 'not given'}); "
        f"evidence due by {due_by_text(dispute)}."
    )
    order.dispute_evidence_due_by = dispute.evidence_due_by

    if order.status == Status.DISPUTED:
        order.record("payment.dispute_opened", f"Another dispute. {message}", stripe_event_id=event.id)
    else:
        status_before = order.status
        if move_order(order, Status.DISPUTED, DISPUTABLE_STATUSES, event, kind="order.disputed", message=message):
            order.status_before_dispute = status_before
    alert_staff(order, "dispute", message, event)


def close_dispute(order, dispute, event):
    message = f"Dispute {dispute.id} closed as {dispute.status}."
    others_open = (
        order.payment_records.filter(kind=PaymentRecord.Kind.DISPUTE)
        .exclude(stripe_id=dispute.id)
        .exclude(status__in=CLOSED_DISPUTE_STATUSES)
        .exists()
    )

    if dispute.is_lost and order.status != Status.REFUNDED:
        message += f" The customer keeps {format_amount(dispute.amount, dispute.currency)}."
        move_order(
            order, Status.REFUNDED, LOSABLE_STATUSES, event, kind="order.refunded",
            message=f"{message} The order counts as refunded.",
        )
    elif order.status == Status.DISPUTED and not others_open:
        status_back = order.status_before_dispute or Status.NEW
        message += f" The order is back to {status_label(status_back)}."
        move_order(order, status_back, {Status.DISPUTED}, event, kind="order.dispute_closed", message=message)
    else:
        if others_open:
            message += " Another dispute on this order is still open."
        order.record("payment.dispute_closed", message, stripe_event_id=event.id)

    if order.status != Status.DISPUTED:
        order.status_before_dispute = ""
        order.dispute_evidence_due_by = None
    alert_staff(order, "dispute", message, event)


def due_by_text(dispute):
    if dispute.evidence_due_by is None:
        return "(no deadline given)"
    return timezone.localtime(dispute.evidence_due_by).strftime("%d %b %Y %H:%M %Z")
