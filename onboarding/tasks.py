"""Background tasks, run by django-tasks-db's worker (manage.py db_worker).

A task only names the rows to look at. The rows' own state decides what is
sent, so a task that runs twice or late sends nothing twice, and for a task
that never runs the sweeper enqueues another.
"""

from django.utils import timezone
from django_tasks import task

from .delivery import KINDS, deliver, due
from .models import OutboxItem


@task()
def deliver_order(order_id):
    """Deliver every due outbox row of one order: emails first, then staff alerts, then the Stripe mirror sync."""
    now = timezone.now()
    refs = [
        [kind_name, item_id]
        for kind_name, kind in KINDS.items()
        for item_id in kind.model.objects.filter(due(now), order_id=order_id, state=OutboxItem.State.QUEUED)
        .order_by("id")
        .values_list("id", flat=True)
    ]
    return deliver_all(refs)


@task()
def deliver_items(refs):
    """Deliver the outbox rows named as [kind, id] pairs; the retry, sweeper and non-order alert task."""
    return deliver_all(refs)


def deliver_all(refs):
    delivered = [deliver(kind_name, item_id) for kind_name, item_id in refs]
    return {"delivered": sum(delivered), "skipped": len(delivered) - sum(delivered)}
