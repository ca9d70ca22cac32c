"""Write outbox rows for an order and hand their sending to the task worker."""

import logging
from datetime import timedelta
from email.utils import formataddr

from django.conf import settings
from django.utils import timezone

from . import alerts
from .models import OutboxEmail, OutboxItem, StripeMirrorSync
from .rendering import email_context, render_subject

logger = logging.getLogger(__name__)

ONBOARDING_EMAILS = ("welcome", "intake")
INTAKE_REMINDER = "intake_reminder"


def start(order, stripe_event_id=""):
    """Queue the onboarding of a paid order and enqueue its one delivery task.

    Runs inside the transaction that marked the order paid: the welcome and
    intake emails, the staff alert for a new order and the Stripe mirror
    sync. The task row is inserted in that transaction too, so the worker can
    read it only after the order commits, and a rollback removes order, rows
    and task together. Each enqueue is an insert in the webhook request, so
    there is one per order.
    """
    from .tasks import deliver_order

    now = timezone.now()
    queued = queue_emails(order, ONBOARDING_EMAILS, now)
    if queued:
        order.record(
            "email.queued",
            f"Onboarding emails queued for {order.customer_email}: {', '.join(queued)}.",
            data={"templates": queued},
            stripe_event_id=stripe_event_id,
        )
    new_alerts = alerts.queue_alert(
        "new_order",
        f"New order {order.reference}: {order.tier} for {order.amount_display} from {order.customer_email}.",
        order=order,
        now=now,
    )
    synced = queue_stripe_mirror_sync(order, now)

    if queued or new_alerts or synced:
        deliver_order.enqueue(order.pk)
        logger.info(
            "Queued onboarding of order %s: emails %s, %s alerts",
            order.pk,
            queued,
            len(new_alerts),
            extra={"order_id": order.pk},
        )
    return queued


def queue_emails(order, templates, now, *, send_at=None):
    """Write one queued row per template not yet written for this order; return the new templates.

    send_at delays the rows; without it they are due at once and task_due_at
    records that the caller enqueues their task now.
    """
    existing = set(OutboxEmail.objects.filter(order=order, template__in=templates).values_list("template", flat=True))
    context = email_context(order)
    rows = [
        OutboxEmail(
            order=order,
            template=template,
            to_email=order.customer_email,
            to_name=order.customer_name,
            subject=render_subject(template, context),
            next_attempt_at=send_at,
            task_due_at=None if send_at else now,
        )
        for template in templates
        if template not in existing
    ]
    if not rows:
        return []

    # The unique (order, template) constraint keeps this at most once even if
    # two callers race past the check above.
    OutboxEmail.objects.bulk_create(rows, ignore_conflicts=True)
    return [row.template for row in rows]


def queue_stripe_mirror_sync(order, now):
    """Write the order's Stripe mirror sync row when the mirror is enabled; return True when written."""
    if not settings.STRIPE_MIRROR_SYNC or StripeMirrorSync.objects.filter(order=order).exists():
        return False
    StripeMirrorSync.objects.bulk_create([StripeMirrorSync(order=order, task_due_at=now)], ignore_conflicts=True)
    return True


def queue_follow_up(email, sent_at):
    """After the intake request is sent, queue its reminder for INTAKE_REMINDER_HOURS later."""
    from .delivery import schedule

    order = email.order
    if email.template != "intake" or order.intake_state == order.IntakeState.RECEIVED:
        return

    send_at = sent_at + timedelta(hours=settings.INTAKE_REMINDER_HOURS)
    if not queue_emails(order, [INTAKE_REMINDER], sent_at, send_at=send_at):
        return
    reminder = OutboxEmail.objects.get(order=order, template=INTAKE_REMINDER)
    schedule("email", reminder.pk, send_at)
    order.record(
        "email.queued",
        f"Intake reminder queued for {send_at:%Y-%m-%d %H:%M} UTC unless the intake arrives first.",
        data={"templates": [INTAKE_REMINDER], "send_at": send_at.isoformat()},
    )


def cancel_reminder(order):
    """Cancel the queued intake reminder of an order; return True when one was cancelled."""
    cancelled = OutboxEmail.objects.filter(
        order=order, template=INTAKE_REMINDER, state=OutboxItem.State.QUEUED
    ).update(state=OutboxItem.State.CANCELLED, last_error="Cancelled: the intake arrived.", updated_at=timezone.now())
    if cancelled:
        order.record("email.cancelled", "Intake reminder cancelled: the intake arrived.")
    return bool(cancelled)


def recipient(email):
    """Format the To header so that commas, quotes or accents in a name cannot split the address."""
    return formataddr((email.to_name, email.to_email)) if email.to_name else email.to_email
