"""Staff status changes: the allowed moves, what each needs, and change_status(), the one way to make them.

The admin's status field and its actions both call change_status(), so a
move the table below does not list is impossible from any screen. Payment
statuses (awaiting payment, payment failed) are set by Stripe events in
orders.services, never by staff, and the customer's intake form has its own
transition in orders.intake.
"""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .intake import TransitionNotAllowed, move_to
from .models import DFYOrder
from .services import announce_paid, apply_plan
from .signals import order_delivered

logger = logging.getLogger(__name__)

Status = DFYOrder.Status

# The statuses staff may move an order to, by its current status. A status
# missing here (or added later without an entry) allows no staff move.
ALLOWED = {
    Status.NEEDS_REVIEW: (Status.NEW,),
    Status.NEW: (Status.INTAKE_RECEIVED, Status.IN_PROGRESS),
    Status.INTAKE_RECEIVED: (Status.IN_PROGRESS,),
    Status.IN_PROGRESS: (Status.DELIVERED,),
    # Back to work when the customer requests a revision.
    Status.DELIVERED: (Status.IN_PROGRESS,),
}

# The statuses in which the delivery deadline runs: an order past its
# deadline in one of them is overdue.
DEADLINE_STATUSES = (Status.NEW, Status.INTAKE_RECEIVED, Status.IN_PROGRESS)


class RequirementMissing(TransitionNotAllowed):
    """The move is allowed from the order's status, but a field it needs is empty."""

    def __init__(self, order, target, reason):
        self.reason = reason
        super().__init__(order, target)
        self.args = (f"{order.reference} cannot move to {Status(target).label}: {reason}",)


def allowed_targets(status):
    return ALLOWED.get(status, ())


def sources_of(target):
    return {source for source, targets in ALLOWED.items() if target in targets}


def overdue(now):
    """Return the filter for orders past their deadline that are still being worked."""
    return Q(deadline__lt=now, status__in=DEADLINE_STATUSES)


def is_overdue(order, now):
    return order.deadline is not None and order.deadline < now and order.status in DEADLINE_STATUSES


# What each target needs: a function of the order that returns why the move
# cannot happen yet, or "".
def plan_missing(order):
    return "" if order.catalogue_plan_id else "choose a catalogue plan first."


def package_link_missing(order):
    return "" if order.final_package_link else "add the final package link first, because the handover email sends it."


REQUIREMENTS = {Status.NEW: plan_missing, Status.DELIVERED: package_link_missing}


def check(order, target):
    """Raise TransitionNotAllowed (or its RequirementMissing) unless order may move to target now."""
    if target not in allowed_targets(order.status):
        raise TransitionNotAllowed(order, target)
    requirement = REQUIREMENTS.get(target)
    reason = requirement(order) if requirement else ""
    if reason:
        raise RequirementMissing(order, target, reason)


# Field changes that come with a move, made before it is saved. Each returns
# the names of the fields it changed.
def start_on_plan(order, now):
    staff_deadline = order.deadline
    apply_plan(order, order.catalogue_plan, now)
    # A deadline staff set while reviewing (agreed with the customer) wins
    # over the plan's default.
    order.deadline = staff_deadline or order.deadline
    return ["catalogue_plan", "tier", "intake_state", "review_reason", "revisions_left", "deadline"]


def mark_intake_received(order, now):
    # For an intake that arrived outside the form (email, a call). The intake
    # reminder is then cancelled when it falls due, because the state is "received".
    order.intake_state = DFYOrder.IntakeState.RECEIVED
    order.intake_received_at = order.intake_received_at or now
    return ["intake_state", "intake_received_at"]


PREPARE = {Status.NEW: start_on_plan, Status.INTAKE_RECEIVED: mark_intake_received}


# Signals sent after the move is saved, in the same transaction.
def announce_new(order, actor, note):
    announce_paid(order, actor=actor)


def announce_delivered(order, actor, note):
    order_delivered.send(sender=DFYOrder, order=order, actor=actor, note=note)


ANNOUNCE = {Status.NEW: announce_new, Status.DELIVERED: announce_delivered}


@transaction.atomic
def change_status(order, new_status, actor, note=""):
    """Move an order to new_status for a staff user; return the updated order.

    The order is locked and re-read, so the move is checked against its
    committed status and two staff members cannot both make it. The activity
    row names the actor and keeps the note. Raises TransitionNotAllowed when
    the table does not allow the move and RequirementMissing when a field it
    needs is empty.
    """
    locked = DFYOrder.objects.select_for_update().get(pk=order.pk)
    check(locked, new_status)

    previous = locked.status
    prepare = PREPARE.get(new_status)
    fields = prepare(locked, timezone.now()) if prepare else []
    name = actor.get_username() if actor is not None else "Staff"
    message = f"{name} changed the status from {Status(previous).label} to {Status(new_status).label}."
    if note:
        message += f" Note: {note}"
    move_to(
        locked, new_status, sources_of(new_status),
        kind="order.status_changed", message=message, fields=fields, data={"note": note}, actor=actor,
    )

    logger.info("Order %s status changed by user %s", locked.pk, getattr(actor, "pk", None))

    announce = ANNOUNCE.get(new_status)
    if announce:
        announce(locked, actor, note)
    return locked
