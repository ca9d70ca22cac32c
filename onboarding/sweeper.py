"""The sweeper: recover rows of dead workers and enqueue due rows that no task picked up.

The task queue cannot be trusted alone: django-tasks-db leaves a task
RUNNING for good when its worker is killed, and a task row can fail or be
pruned. The outbox rows are the record of truth, so a periodic pass over them
finds what is late and hands it to the worker again.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .delivery import KINDS, describe, due, log_attempt, record_activity
from .models import DeliveryAttempt, OutboxItem

logger = logging.getLogger(__name__)

State = OutboxItem.State
TASK_BATCH_SIZE = 50


@dataclass(frozen=True)
class SweepResult:
    recovered: int
    enqueued: int


def sweep(now=None):
    """Run one pass: recover stale "sending" rows, then enqueue due rows whose task is late."""
    now = now or timezone.now()
    recovered = sum(recover_stale(kind_name, now) for kind_name in KINDS)
    enqueued = enqueue_late(now)
    if recovered or enqueued:
        logger.info("Outbox sweep recovered %s stale rows and enqueued %s late rows", recovered, enqueued)
    return SweepResult(recovered, enqueued)


def recover_stale(kind_name, now):
    """Put rows left in "sending" longer than OUTBOX_STALE_SECONDS back in the queue; return how many."""
    model = KINDS[kind_name].model
    cutoff = now - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)
    stale = model.objects.select_related("order").filter(state=State.SENDING, claimed_at__lt=cutoff)
    return sum(recover(kind_name, item, now) for item in stale)


@transaction.atomic
def recover(kind_name, item, now):
    """Requeue one stale row (or fail it when out of attempts) with its attempt and activity; return True when done."""
    exhausted = item.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    reason = (
        f"Worker {item.claimed_by or '(unknown)'} stopped while sending attempt {item.attempts} "
        f"(claimed at {item.claimed_at:%Y-%m-%d %H:%M:%S} UTC). {redelivery_note(kind_name)}"
    )
    updated = type(item).objects.filter(pk=item.pk, state=State.SENDING, attempts=item.attempts).update(
        state=State.FAILED if exhausted else State.QUEUED,
        failure=OutboxItem.Failure.EXHAUSTED if exhausted else OutboxItem.Failure.NONE,
        next_attempt_at=now,
        task_due_at=None,
        claimed_by="",
        last_error=reason,
        updated_at=now,
    )
    if not updated:
        return False

    log_attempt(item, item.attempts, item.claimed_by, item.claimed_at, DeliveryAttempt.Outcome.INTERRUPTED, error=reason)
    logger.warning("Recovered stale %s %s from worker %s", kind_name, item.pk, item.claimed_by)
    record_activity(item, "recovered", f"{describe(item).capitalize()} recovered: {reason}", item.attempts)
    return True


def redelivery_note(kind_name):
    if kind_name == "stripe_mirror":
        return "Syncing again is harmless."
    if settings.EMAIL_BACKEND == "onboarding.resend_backend.EmailBackend" and kind_name == "email":
        return "Re-queued: the next attempt sends the same Idempotency-Key, so Resend delivers it at most once."
    return "Re-queued: it may arrive twice, because this channel has no idempotency key."


def enqueue_late(now):
    """Enqueue one task per batch of due queued rows whose task is missing or late; return how many rows."""
    from .tasks import deliver_items

    grace = timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)
    late = Q(task_due_at__isnull=True) | Q(task_due_at__lt=now - grace)
    refs = []
    for kind_name, kind in KINDS.items():
        ids = list(kind.model.objects.filter(due(now) & late, state=State.QUEUED).values_list("id", flat=True))
        kind.model.objects.filter(pk__in=ids, state=State.QUEUED).update(task_due_at=now)
        refs += [[kind_name, item_id] for item_id in ids]

    for start in range(0, len(refs), TASK_BATCH_SIZE):
        deliver_items.enqueue(refs[start:start + TASK_BATCH_SIZE])
    return len(refs)
