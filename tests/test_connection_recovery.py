"""C12 on the worker side: the task worker and the sweeper survive a server-closed connection (PostgreSQL)."""

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from onboarding.models import OutboxEmail
from orders.models import DFYOrder
from tests.conftest import checkout_event, database_url, resend_env, wait_for

WORKER = "levqor-c12-worker"
SWEEPER = "levqor-c12-sweeper"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: pg_terminate_backend has no SQLite equivalent; set DATABASE_URL (.ci/run does)",
)


def backend_pids(application_name):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        return {row[0] for row in cursor.fetchall()}


def terminate(pids):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM unnest(%s::int[]) AS pid WHERE pg_terminate_backend(pid)", [list(pids)])
        return cursor.fetchone()[0]


def persistent_env(application_name, **overrides):
    return {
        "DATABASE_URL": f"{database_url()}?application_name={application_name}",
        "CONN_MAX_AGE": "600",
        "CONN_HEALTH_CHECKS": "true",
        **overrides,
    }


def emails_sent(session_id):
    return OutboxEmail.objects.filter(
        order__stripe_checkout_session_id=session_id, template__in=["welcome", "intake"], state="sent"
    ).count() == 2


def worker_idle():
    return not DBTaskResult.objects.ready().exists() and not DBTaskResult.objects.filter(status="RUNNING").exists()


def diagnosis(email_id, workers):
    """Describe the row, the task rows and the processes' output, for a failure that only shows under CI's timing."""
    row = OutboxEmail.objects.get(pk=email_id)
    tasks = list(DBTaskResult.objects.values_list("task_path", "status", "run_after", "args_kwargs"))
    return (
        f"The sweeper's re-queued row was not sent within 60 s: state {row.state}, attempts {row.attempts}, "
        f"next attempt {row.next_attempt_at}, task due {row.task_due_at}, last error {row.last_error!r}.\n"
        f"Task rows: {tasks}\nProcess output:\n{workers.stop()[-6000:]}"
    )


def test_worker_and_sweeper_survive_terminated_backends(transactional_db, webhook, workers, resend, settings):
    # The mirror sync would add Stripe calls to the task; this case is about the connection.
    settings.STRIPE_MIRROR_SYNC = False
    workers.start(**resend_env(resend, **persistent_env(WORKER)))
    workers.start("--interval", "0.3", command="outbox_sweeper", **persistent_env(SWEEPER, OUTBOX_SWEEP_GRACE_SECONDS="0"))
    webhook.post(checkout_event(session_id="cs_test_before"))
    wait_for(lambda: emails_sent("cs_test_before"), message="the first order's emails")
    worker_pids = wait_for(lambda: backend_pids(WORKER), message="the worker's connection")
    sweeper_pids = wait_for(lambda: backend_pids(SWEEPER), message="the sweeper's connection")
    # The case is a connection lost between tasks. One lost in the middle of a
    # task ends db_worker itself, because django-tasks-db 0.13 then fails to
    # mark the task failed; that needs a restart and the sweeper instead.
    wait_for(worker_idle, message="the worker to finish its tasks")

    assert terminate(worker_pids | sweeper_pids) == len(worker_pids | sweeper_pids)

    webhook.post(checkout_event(session_id="cs_test_after", email="after@example.com"))
    wait_for(lambda: emails_sent("cs_test_after"), message="the second order's emails")
    # The sweeper must also work again: it enqueues a row whose task was lost.
    reminder = OutboxEmail.objects.get(order__stripe_checkout_session_id="cs_test_after", template="intake_reminder")
    OutboxEmail.objects.filter(pk=reminder.pk).update(next_attempt_at=timezone.now(), task_due_at=None)
    try:
        wait_for(lambda: OutboxEmail.objects.get(pk=reminder.pk).state == "sent", timeout=60, message="the reminder")
    except pytest.fail.Exception:
        pytest.fail(diagnosis(reminder.pk, workers))
    new_sweeper_pids = backend_pids(SWEEPER)
    new_worker_pids = backend_pids(WORKER)
    still_running = [process.poll() is None for process in workers.processes]
    workers.stop()

    assert still_running == [True, True]
    assert new_worker_pids and not new_worker_pids & worker_pids
    assert new_sweeper_pids and not new_sweeper_pids & sweeper_pids
    assert DFYOrder.objects.count() == 2
    assert len(resend.delivered()) == 5
