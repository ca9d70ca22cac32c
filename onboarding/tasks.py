"""Background tasks, run by django-tasks-db's worker (manage.py db_worker)."""

from django_tasks import task

from .delivery import send_outbox_email
from .models import OutboxEmail


@task()
def send_order_emails(order_id):
    """Send every queued email of one order; return how many were sent."""
    email_ids = OutboxEmail.objects.filter(order_id=order_id, state=OutboxEmail.State.QUEUED).values_list(
        "id", flat=True
    )
    return sum(send_outbox_email(email_id) for email_id in list(email_ids))
