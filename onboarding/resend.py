"""Send an order's emails again on a staff request: the handover on delivery and the resend action.

An outbox row is unique per order and template, so a resend puts the
existing row back in the queue rather than adding a second one. It gets a
new idempotency key, because Resend returns the first response for a
repeated key and delivers nothing. It also gets a fresh attempt budget. Its
earlier attempts stay in the attempt log, and an activity row records who
requested the resend and why.

One request sends at most once: a row already queued or sending is left
alone, and a request token that the order's activity already records is
ignored, so a form posted twice does not send twice.
"""

import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from orders.models import DFYOrder

from .models import OutboxEmail, OutboxItem
from .outbox import queue_emails
from .rendering import email_context, render_subject

logger = logging.getLogger(__name__)

State = OutboxItem.State
Status = DFYOrder.Status

# A row in one of these states has finished, so sending it again is a new send.
FINISHED_STATES = (State.SENT, State.FAILED, State.CANCELLED)
# Onboarding emails go only to orders whose onboarding has started.
RESEND_STATUSES = (Status.NEW, Status.INTAKE_RECEIVED, Status.IN_PROGRESS, Status.DELIVERED)
RESEND_ACTIVITY = "email.resend_requested"


@dataclass
class ResendResult:
    queued: list = field(default_factory=list)
    requeued: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    duplicate_request: bool = False

    @property
    def sent_templates(self):
        return self.queued + self.requeued


class ResendRejected(Exception):
    """The order cannot be sent these emails: no customer email, or onboarding has not started."""


def resend_rejection(order):
    """Return why an order's emails cannot be sent again, or ""."""
    if order.status not in RESEND_STATUSES:
        return f"{order.reference} is {order.get_status_display().lower()}, so its onboarding has not started."
    if not order.customer_email:
        return f"{order.reference} has no customer email."
    return ""


@transaction.atomic
def resend_emails(order, templates, *, actor, reason, request_token=""):
    """Queue each template for the order once more, or for the first time; return a ResendResult.

    Raises ResendRejected for an order that may not be emailed. request_token
    identifies one staff request (one click); a second call with the same
    token for the same order changes nothing.
    """
    from .tasks import deliver_items

    # The order's lock serialises two requests for one order, so the token
    # and state checks below see each other's rows.
    order = DFYOrder.objects.select_for_update().get(pk=order.pk)
    rejection = resend_rejection(order)
    if rejection:
        raise ResendRejected(rejection)

    result = ResendResult()
    if request_token and order.activities.filter(kind=RESEND_ACTIVITY, data__request_token=request_token).exists():
        logger.info("Resend request %s for order %s was already applied", request_token, order.pk)
        result.duplicate_request = True
        return result

    now = timezone.now()
    existing = {row.template: row for row in OutboxEmail.objects.filter(order=order, template__in=templates)}
    result.queued = queue_emails(order, [template for template in templates if template not in existing], now)
    subject_context = email_context(order)
    previous = {}
    for template, row in existing.items():
        if row.state not in FINISHED_STATES:
            result.pending.append(template)
            continue
        requeued = OutboxEmail.objects.filter(pk=row.pk, state=row.state).update(
            state=State.QUEUED, attempts=0, next_attempt_at=None, task_due_at=now, claimed_at=None, claimed_by="",
            failure=OutboxItem.Failure.NONE, last_error="", idempotency_key=uuid.uuid4(), provider_message_id="",
            sent_at=None, delivery_status=OutboxEmail.DeliveryStatus.UNKNOWN, delivery_status_at=None,
            subject=render_subject(template, subject_context), updated_at=now,
        )
        if requeued:
            result.requeued.append(template)
            previous[template] = {"state": row.state, "attempts": row.attempts, "provider_message_id": row.provider_message_id}

    if result.sent_templates:
        ids = OutboxEmail.objects.filter(order=order, template__in=result.sent_templates).values_list("pk", flat=True)
        deliver_items.enqueue([["email", pk] for pk in ids])

    record_request(order, result, actor, reason, request_token, previous)
    return result


def record_request(order, result, actor, reason, request_token, previous):
    name = actor.get_username() if actor is not None else "Staff"
    if result.sent_templates:
        summary = f"{name} queued {', '.join(result.sent_templates)} for {order.customer_email}"
    else:
        summary = f"{name} asked to resend emails; none was queued"
    if result.pending:
        summary += f" ({', '.join(result.pending)} already waiting to be sent)"
    order.record(
        RESEND_ACTIVITY,
        f"{summary}. Reason: {reason}",
        data={
            "reason": reason,
            "request_token": request_token,
            "queued": result.queued,
            "requeued": result.requeued,
            "pending": result.pending,
            "previous": previous,
        },
        actor=actor,
    )
    logger.info(
        "Resend for order %s by user %s: queued %s, re-queued %s, pending %s",
        order.pk, getattr(actor, "pk", None), result.queued, result.requeued, result.pending,
    )


def new_request_token():
    return uuid.uuid4().hex

