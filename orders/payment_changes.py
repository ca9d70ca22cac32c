"""Changes the payment lifecycle makes to an order: guarded status moves, payment records, staff alerts.

Every change writes a DFYActivity row with the Stripe event that caused it.
Callers hold the order's row lock and save the order afterwards.
"""

import logging

from .models import DFYOrder, PaymentRecord
from .signals import payment_problem

logger = logging.getLogger(__name__)

Status = DFYOrder.Status


def status_label(status):
    return Status(status).label.lower() if status in Status.values else status


def move_order(order, status, allowed_from, event, *, kind, message):
    """Move the order to a status if its current status is in allowed_from; return whether it moved.

    A rejected move leaves the status unchanged and is recorded, so staff see
    what Stripe reported.
    """
    if order.status not in allowed_from:
        logger.warning(
            "Event %s may not move order %s from %s to %s", event.id, order.pk, order.status, status
        )
        allowed = ", ".join(sorted(status_label(value) for value in allowed_from))
        order.record(
            "order.transition_rejected",
            f"{message} The order stays {status_label(order.status)}: {status_label(status)} "
            f"is reached only from {allowed}.",
            data={"from": order.status, "to": status},
            stripe_event_id=event.id,
        )
        return False

    previous = order.status
    order.status = status
    logger.info("Order %s moved from %s to %s by event %s", order.pk, previous, status, event.id)
    order.record(kind, message, data={"from": previous, "to": status}, stripe_event_id=event.id)
    return True


def alert_staff(order, kind, message, event):
    """Record the alert on the order and send payment_problem to the receivers that alert staff."""
    order.record("staff.alert", message, data={"alert": kind}, stripe_event_id=event.id)
    payment_problem.send(sender=DFYOrder, order=order, problem=kind, message=message, stripe_event_id=event.id)


def note_ignored(order, event, reason):
    logger.info("Event %s left order %s unchanged: %s", event.id, order.pk, reason)
    order.record("stripe.event_ignored", f"{event.type} changed nothing: {reason}.", stripe_event_id=event.id)


def update_record(order, kind, stripe_id, event, *, final_statuses=frozenset(), **fields):
    """Create or update the order's record of one Stripe object; return (record, previous status, changed).

    An event older than the one the record last took, or one that would move
    a record out of a final status, is stale and changes nothing. The unique
    (kind, stripe_id) constraint keeps one record per object.
    """
    record = PaymentRecord.objects.filter(kind=kind, stripe_id=stripe_id).first()
    if record is None:
        record = PaymentRecord.objects.create(
            order=order,
            kind=kind,
            stripe_id=stripe_id,
            stripe_event_id=event.id,
            stripe_event_created=event.created,
            **fields,
        )
        return record, None, True

    if record.order_id != order.pk:
        logger.warning(
            "Event %s: %s %s belongs to order %s, not %s", event.id, kind, stripe_id, record.order_id, order.pk
        )
        return record, record.status, False

    stale = event.created < record.stripe_event_created or (
        record.status in final_statuses and fields.get("status") not in final_statuses
    )
    changes = {name: value for name, value in fields.items() if getattr(record, name) != value}
    if stale or not changes:
        return record, record.status, False

    previous_status = record.status
    for name, value in changes.items():
        setattr(record, name, value)
    record.stripe_event_id = event.id
    record.stripe_event_created = event.created
    record.save()
    return record, previous_status, True
