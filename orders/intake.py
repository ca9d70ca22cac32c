"""The customer's intake answers: the one transition into "intake_received"."""

import logging

from django.db import transaction
from django.utils import timezone

from .models import DFYOrder
from .signals import intake_received

logger = logging.getLogger(__name__)

Status = DFYOrder.Status

# The statuses an order may leave for "intake_received". Any other status
# (awaiting payment, needs review, failed, or already received) rejects it.
INTAKE_RECEIVED_FROM = frozenset({Status.NEW})


class TransitionNotAllowed(Exception):
    """The order's current status does not allow the requested transition."""

    def __init__(self, order, target):
        self.order = order
        self.target = target
        super().__init__(f"Order {order.pk} cannot move from {order.status} to {target}.")


def move_to(order, target, allowed_from, *, kind, message, fields=(), data=None, actor=None):
    """Save a locked order in status target if its current status is in allowed_from, and log the change.

    fields names the other columns the caller changed, saved in the same update.
    """
    if order.status not in allowed_from:
        raise TransitionNotAllowed(order, target)

    previous = order.status
    order.status = target
    order.save(update_fields=["status", *fields, "updated_at"])
    order.record(kind, message, data={"from": previous, "to": target, **(data or {})}, actor=actor)
    logger.info("Order %s moved from %s to %s", order.pk, previous, target)


@transaction.atomic
def receive_intake(order_id, answers):
    """Store the intake answers of a "new" order and move it to "intake_received"; return the order.

    Raises DFYOrder.DoesNotExist for an unknown order and TransitionNotAllowed
    when the order is in any other status, including a second submission.
    """
    order = DFYOrder.objects.select_for_update().get(pk=order_id)
    if order.status not in INTAKE_RECEIVED_FROM:
        raise TransitionNotAllowed(order, Status.INTAKE_RECEIVED)

    order.intake_state = DFYOrder.IntakeState.RECEIVED
    order.intake_answers = answers
    order.intake_received_at = timezone.now()
    move_to(
        order,
        Status.INTAKE_RECEIVED,
        INTAKE_RECEIVED_FROM,
        kind="intake.received",
        message="The customer submitted the intake form.",
        fields=["intake_state", "intake_answers", "intake_received_at"],
        data={"fields": sorted(answers)},
    )
    intake_received.send(sender=DFYOrder, order=order)
    return order
