"""Background tasks of the orders app, run by django-tasks-db's worker (manage.py db_worker)."""

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from . import reconciliation

logger = logging.getLogger(__name__)


class ReconciliationFailed(Exception):
    """Some sessions or events could not be reconciled; the task result keeps the ids."""


@task()
def reconcile_checkouts_periodically(lookback_seconds, interval_seconds):
    """Reconcile Checkout Sessions of the look-back period, then enqueue the next run after the interval.

    The next run is enqueued even when this one fails (Stripe unreachable),
    so the schedule survives an outage; the failure marks this result FAILED.
    """
    try:
        report = reconciliation.reconcile(timedelta(seconds=lookback_seconds))
    finally:
        schedule_reconciliation(
            lookback_seconds, interval_seconds, run_after=timezone.now() + timedelta(seconds=interval_seconds)
        )

    if not report.ok:
        raise ReconciliationFailed(", ".join(item.stripe_id for item in report.failures))
    summary = report.as_dict()
    summary.pop("items")
    return summary


def schedule_reconciliation(lookback_seconds, interval_seconds, run_after=None, replace=False):
    """Enqueue a periodic reconciliation unless one is already waiting; return the task result or None.

    Only READY results count as waiting: a worker stopped mid-task can leave
    a result RUNNING for good, and that must not stop the schedule. With
    replace, a waiting run with other settings is deleted and this one queued.
    """
    # django-tasks has no query for queued tasks, so this reads
    # django-tasks-db's table, the backend configured in settings.TASKS.
    waiting = DBTaskResult.objects.filter(
        task_path=reconcile_checkouts_periodically.module_path, status=TaskResultStatus.READY
    )
    arguments = {"args": [lookback_seconds, interval_seconds], "kwargs": {}}
    if replace:
        waiting.exclude(args_kwargs=arguments).delete()
    if waiting.exists():
        logger.info("A periodic reconciliation is already queued; not adding another")
        return None

    scheduled = reconcile_checkouts_periodically
    if run_after is not None:
        scheduled = scheduled.using(run_after=run_after)
    result = scheduled.enqueue(lookback_seconds, interval_seconds)
    logger.info("Queued periodic reconciliation %s to run after %s", result.id, run_after or "now")
    return result
