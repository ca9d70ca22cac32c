"""Staff alerts: outbox rows sent by the worker to Telegram and/or a staff email list.

alert_staff() is the public entry point. A missing or failing channel is
logged and written to the order's activity. A database error while queuing
is caught in a savepoint, so it does not fail the caller's transaction (an
order's webhook).
"""

import logging
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from . import telegram
from .models import StaffAlert

logger = logging.getLogger(__name__)

Channel = StaffAlert.Channel

TITLES = {
    "new_order": "New order",
    "payment_problem": "Payment problem",
    "bounce": "Email bounced",
    "complaint": "Spam complaint",
    "intake_received": "Intake received",
    "email_failed": "Email failed",
}


def configured_channels():
    """Return {channel: recipients} for every alert channel the settings configure."""
    channels = {}
    if telegram.is_configured():
        channels[Channel.TELEGRAM] = settings.TELEGRAM_CHAT_ID
    if settings.STAFF_ALERT_EMAILS:
        channels[Channel.EMAIL] = ", ".join(settings.STAFF_ALERT_EMAILS)
    return channels


def alert_staff(kind, message, *, order=None, key=None):
    """Queue a staff alert on every configured channel and enqueue its sending; return the new rows.

    kind is a short slug ("new_order", "payment_problem", "bounce", or the
    caller's own). key names the condition: a second call with the same key
    sends nothing, so a repeated check alerts once. Without a key an order's
    alert is keyed on the order and kind, and an alert without an order is
    always sent.
    """
    from .tasks import deliver_items

    rows = []
    with degrade_on_database_error(kind, order):
        rows = write_alert_rows(kind, message, order=order, key=key)
        if rows:
            deliver_items.enqueue([["alert", row.pk] for row in rows])
    return rows


def queue_alert(kind, message, *, order=None, key=None, now=None):
    """Write the alert rows for a condition without enqueuing a task; return the new rows, without primary keys."""
    rows = []
    with degrade_on_database_error(kind, order):
        rows = write_alert_rows(kind, message, order=order, key=key, now=now, reload=False)
    return rows


@contextmanager
def degrade_on_database_error(kind, order):
    """Run the block in a savepoint; on a database error log it and note it on the order, then go on.

    The caller's transaction (an order's webhook) survives, so an alert can
    never cost an order.
    """
    try:
        with transaction.atomic():
            yield
    except DatabaseError as exc:
        logger.exception("Staff alert %s for order %s could not be queued", kind, getattr(order, "pk", None))
        if order is not None:
            order.record("alert.failed", f"Staff alert {kind} could not be queued: {type(exc).__name__}.", data={"kind": kind})


def write_alert_rows(kind, message, *, order=None, key=None, now=None, reload=True):
    """Insert one queued row per configured channel not yet alerted for key; return the new rows.

    reload=False returns the rows as built, without primary keys, and saves
    the query that reads them back (one per order webhook).
    """
    now = now or timezone.now()
    if key is None:
        key = f"order:{order.pk}:{kind}" if order is not None else f"{kind}:{uuid.uuid4()}"

    channels = configured_channels()
    if not channels:
        logger.warning("Staff alert %s (%s) not sent: no alert channel is configured", kind, key)
        if order is not None:
            order.record(
                "alert.not_configured",
                "Staff alert not sent: no alert channel is configured "
                f"(set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID, or STAFF_ALERT_EMAILS). Alert: {message}",
                data={"kind": kind, "key": key},
            )
        return []

    existing = set(StaffAlert.objects.filter(key=key).values_list("channel", flat=True))
    new_channels = [channel for channel in channels if channel not in existing]
    if not new_channels:
        logger.info("Staff alert %s already queued for key %s", kind, key)
        return []

    text = alert_text(kind, message, order)
    rows = [
        StaffAlert(
            key=key, kind=kind, channel=channel, order=order, message=text,
            recipients=channels[channel], task_due_at=now,
        )
        for channel in new_channels
    ]
    # The unique (key, channel) constraint decides a race between two callers.
    StaffAlert.objects.bulk_create(rows, ignore_conflicts=True)
    if not reload:
        return rows
    # bulk_create sets no primary keys when conflicts are ignored.
    return list(StaffAlert.objects.filter(key=key, channel__in=new_channels, state=StaffAlert.State.QUEUED))


def alert_text(kind, message, order):
    title = TITLES.get(kind, kind.replace("_", " ").capitalize())
    lines = [f"[Levqor] {title}", message]
    if order is not None:
        admin_path = reverse("admin:orders_dfyorder_change", args=[order.pk])
        lines.append(f"{order.reference}: {settings.PUBLIC_BASE_URL}{admin_path}")
    return "\n".join(lines)
