"""Write outbox rows for an order and hand their sending to the task worker."""

import logging
from email.utils import formataddr

from .models import OutboxEmail
from .rendering import email_context, render_subject

logger = logging.getLogger(__name__)

ONBOARDING_EMAILS = ("welcome", "intake")


def start(order, stripe_event_id=""):
    """Queue the welcome and intake emails of a paid order and enqueue their sending.

    Runs inside the transaction that marked the order paid. The task row is
    inserted in that transaction too, so the worker can read it only after the
    order commits, and a rollback removes order, emails and task together.
    """
    queued = queue_emails(order, ONBOARDING_EMAILS)
    if queued:
        order.record(
            "email.queued",
            f"Onboarding emails queued for {order.customer_email}: {', '.join(queued)}.",
            data={"templates": queued},
            stripe_event_id=stripe_event_id,
        )
    return queued


def queue_emails(order, templates):
    """Write one queued row per template not yet written for this order; return the new templates."""
    from .tasks import send_order_emails

    existing = set(OutboxEmail.objects.filter(order=order, template__in=templates).values_list("template", flat=True))
    context = email_context(order)
    rows = [
        OutboxEmail(
            order=order,
            template=template,
            to_email=order.customer_email,
            to_name=order.customer_name,
            subject=render_subject(template, context),
        )
        for template in templates
        if template not in existing
    ]
    if not rows:
        return []

    # The unique (order, template) constraint keeps this at most once even if
    # two callers race past the check above.
    OutboxEmail.objects.bulk_create(rows, ignore_conflicts=True)
    send_order_emails.enqueue(order.pk)
    logger.info("Queued %s emails for order %s", len(rows), order.pk, extra={"order_id": order.pk})
    return [row.template for row in rows]


def recipient(email):
    """Format the To header so that commas, quotes or accents in a name cannot split the address."""
    return formataddr((email.to_name, email.to_email)) if email.to_name else email.to_email
