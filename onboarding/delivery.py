"""Deliver outbox rows: claim, send, record the attempt, then finish or schedule a retry.

Every kind of row (customer email, staff alert, Stripe mirror sync) goes
through deliver(). A conditional UPDATE from "queued" to "sending" is the
claim, so two workers that pick the same row send it once: the loser's
UPDATE matches no row. Every attempt leaves a DeliveryAttempt row.
"""

import logging
import os
import random
import socket
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import senders
from .failures import DeliveryError, redact
from .models import DeliveryAttempt, OutboxEmail, OutboxItem, StaffAlert, StripeMirrorSync

logger = logging.getLogger(__name__)

State = OutboxItem.State
Outcome = DeliveryAttempt.Outcome


@dataclass(frozen=True)
class Kind:
    """The sender and activity names of one outbox model."""

    model: type
    activity_prefix: str
    send: object
    skip_reason: object = None


KINDS = {
    "email": Kind(OutboxEmail, "email", senders.send_customer_email, senders.email_skip_reason),
    "alert": Kind(StaffAlert, "alert", senders.send_staff_alert),
    "stripe_mirror": Kind(StripeMirrorSync, "stripe.mirror", senders.sync_stripe_mirror),
}


def kind_of(item):
    return next(name for name, kind in KINDS.items() if isinstance(item, kind.model))


def worker_name():
    """Identify this process in claims and attempts, so staff can tell which worker died."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def due(now):
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def deliver(kind_name, item_id):
    """Send one due outbox row unless another worker has it or it is finished; return True when sent."""
    kind = KINDS[kind_name]
    started = timezone.now()
    worker = worker_name()
    number = claim(kind.model, item_id, worker, started)
    if number is None:
        return False

    item = kind.model.objects.select_related("order").get(pk=item_id)
    skip_reason = kind.skip_reason(item) if kind.skip_reason else ""
    if skip_reason:
        finish(item, number, worker, started, Outcome.CANCELLED, State.CANCELLED, error=skip_reason)
        return False

    try:
        provider_message_id = kind.send(item)
    except DeliveryError as failure:
        record_failure(item, number, worker, started, failure)
        return False
    except Exception as exc:
        # An error no sender expected (a template or code fault). It is
        # retried like a temporary failure, so a fix deployed in between
        # still sends the row, and the retry limit stops a permanent fault.
        logger.exception("Unexpected error while sending %s %s", kind_name, item_id)
        record_failure(item, number, worker, started, DeliveryError(f"{type(exc).__name__}: {exc}"))
        return False

    record_success(item, number, worker, started, provider_message_id)
    return True


def claim(model, item_id, worker, now):
    """Move a due queued row to sending; return its attempt number, or None when it is not ours to send."""
    claimed = model.objects.filter(due(now), pk=item_id, state=State.QUEUED).update(
        state=State.SENDING, attempts=F("attempts") + 1, claimed_at=now, claimed_by=worker, updated_at=now
    )
    if not claimed:
        return None
    return model.objects.filter(pk=item_id).values_list("attempts", flat=True).get()


@transaction.atomic
def record_success(item, number, worker, started, provider_message_id):
    # The state and the reminder row commit together, because a worker that
    # died between them would leave a sent intake email with no reminder, and
    # no sweep looks for a missing one.
    now = timezone.now()
    # A row the sweeper put back in the queue while this slow send was still
    # running is finished here too, so it is not sent again.
    updated = type(item).objects.filter(pk=item.pk, state__in=[State.SENDING, State.QUEUED]).update(
        state=State.SENT, sent_at=now, provider_message_id=provider_message_id, last_error="", failure="",
        claimed_by="", updated_at=now,
    )
    note = "" if updated else "The row had already been finished by another attempt."
    log_attempt(item, number, worker, started, Outcome.SENT, error=note, provider_message_id=provider_message_id)
    if not updated:
        logger.warning("%s %s was sent by attempt %s after another attempt finished it", kind_of(item), item.pk, number)
        return

    logger.info(
        "Sent %s %s for order %s (attempt %s)",
        kind_of(item),
        item.pk,
        item.order_id,
        number,
        extra={"order_id": item.order_id, "outbox_id": item.pk, "outbox_kind": kind_of(item)},
    )
    record_activity(item, "sent", f"{describe(item).capitalize()} sent.", number, provider_message_id=provider_message_id)
    if isinstance(item, OutboxEmail):
        from .outbox import queue_follow_up

        queue_follow_up(item, now)


@transaction.atomic
def record_failure(item, number, worker, started, failure):
    # Atomic, so the retry task and the staff alert commit with the state that needs them.
    error = redact(str(failure))
    if failure.permanent:
        state, outcome, reason = State.FAILED, Outcome.FAILED, OutboxItem.Failure.PERMANENT
    elif number >= settings.OUTBOX_MAX_ATTEMPTS:
        state, outcome, reason = State.FAILED, Outcome.FAILED, OutboxItem.Failure.EXHAUSTED
    else:
        state, outcome, reason = State.QUEUED, Outcome.RETRY, OutboxItem.Failure.NONE

    retry_at = timezone.now() + timedelta(seconds=retry_delay(number, failure.retry_after)) if state == State.QUEUED else None
    updated = finish(
        item, number, worker, started, outcome, state,
        error=error, status_code=failure.status_code, retry_at=retry_at, failure=reason,
    )
    if not updated:
        return

    label = describe(item)
    sentence = error.rstrip(".") + "."
    if state == State.QUEUED:
        logger.warning("Sending %s %s failed (attempt %s), retry at %s: %s", kind_of(item), item.pk, number, retry_at, error)
        message = f"{label.capitalize()} failed (attempt {number}): {sentence} Next attempt at {retry_at:%H:%M:%S} UTC."
        record_activity(item, "retrying", message, number)
        schedule(kind_of(item), item.pk, retry_at)
        return

    why = "permanent error" if reason == OutboxItem.Failure.PERMANENT else f"gave up after {number} attempts"
    logger.error("Sending %s %s failed for good (%s): %s", kind_of(item), item.pk, why, error)
    record_activity(item, "failed", f"{label.capitalize()} failed ({why}): {sentence}", number)
    if isinstance(item, OutboxEmail):
        from .alerts import alert_staff

        alert_staff(
            "email_failed", f"The {label} failed and will not be retried: {error}",
            order=item.order, key=f"email-failed:{item.pk}",
        )


def finish(item, number, worker, started, outcome, state, *, error="", status_code=None, retry_at=None, failure=""):
    """Store the end of an attempt on a row this worker still holds; return False when it no longer does."""
    now = timezone.now()
    fields = {"state": state, "last_error": error, "claimed_by": "", "updated_at": now, "failure": failure}
    if state == State.QUEUED:
        fields.update(next_attempt_at=retry_at, task_due_at=None)
    updated = type(item).objects.filter(pk=item.pk, state=State.SENDING, attempts=number).update(**fields)

    note = "" if updated else " (The sweeper had already recovered this row as stale.)"
    log_attempt(item, number, worker, started, outcome, error=error + note, status_code=status_code, retry_at=retry_at)
    if not updated:
        logger.warning("%s %s was recovered by the sweeper while attempt %s was running", kind_of(item), item.pk, number)
    elif state == State.CANCELLED:
        record_activity(item, "cancelled", f"{describe(item).capitalize()} cancelled: {error}", number)
    return bool(updated)


def retry_delay(attempt_number, retry_after=None):
    """Return seconds until the next attempt: exponential backoff with jitter, never before retry_after."""
    backoff = min(settings.OUTBOX_RETRY_MAX_SECONDS, settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempt_number - 1))
    # Jitter spreads the retries of many rows that failed together (a
    # provider outage) so they do not return as one burst.
    delay = backoff / 2 + random.uniform(0, backoff / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def schedule(kind_name, item_id, run_at):
    """Enqueue a delayed task for one queued row and note when it is due, for the sweeper."""
    from .tasks import deliver_items

    deliver_items.using(run_after=run_at).enqueue([[kind_name, item_id]])
    KINDS[kind_name].model.objects.filter(pk=item_id, state=State.QUEUED).update(task_due_at=run_at)


def log_attempt(item, number, worker, started, outcome, *, error="", status_code=None, retry_at=None, provider_message_id=""):
    return DeliveryAttempt.objects.create(
        item=item,
        number=number,
        worker=worker,
        started_at=started,
        outcome=outcome,
        error=error,
        status_code=status_code,
        retry_at=retry_at,
        provider_message_id=provider_message_id or "",
    )


def describe(item):
    if isinstance(item, OutboxEmail):
        return f"{item.template.replace('_', ' ')} email to {item.to_email}"
    if isinstance(item, StaffAlert):
        return f"{item.kind.replace('_', ' ')} staff alert by {item.get_channel_display()}"
    return "Stripe mirror sync"


def record_activity(item, event, message, number, **data):
    if item.order_id is None:
        return
    prefix = KINDS[kind_of(item)].activity_prefix
    item.order.record(
        f"{prefix}.{event}",
        message,
        data={"item": kind_of(item), "item_id": item.pk, "attempt": number, **data},
    )
