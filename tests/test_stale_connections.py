"""Persistent PostgreSQL connections that the server closes: terminated backends and a restart.

gunicorn and the worker run as the production settings do, with CONN_MAX_AGE
above zero, so each process keeps its connection between requests. With
CONN_HEALTH_CHECKS on, Django tests a kept connection before its first use in
a request and replaces it when the server has closed it.
"""

import subprocess
import sys
import threading
import time

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from onboarding.models import OutboxEmail
from orders import sample_events
from orders.models import DFYOrder
from tests.conftest import BASE_DIR, LEGACY_WEBHOOK_PATH, WEBHOOK_SECRET, checkout_event, child_env, manage
from tests.pgserver import query

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (pg_terminate_backend, a server restart): set DATABASE_URL; CI runs the suite on both",
)

KEPT_CONNECTIONS = {"CONN_MAX_AGE": 600}


def deliver(server, session_id):
    """POST a paid DFY Starter event for a new session; return the HTTP status."""
    stripe_event = checkout_event(session_id=session_id, email=f"{session_id}@example.com")
    return sample_events.deliver(server.base_url + LEGACY_WEBHOOK_PATH, stripe_event, WEBHOOK_SECRET)[0]


def deliver_together(server, session_ids):
    """Deliver one event per session at the same moment, so every gunicorn worker gets a request."""
    statuses = {}

    def send(session_id):
        statuses[session_id] = deliver(server, session_id)

    threads = [threading.Thread(target=send, args=(session_id,)) for session_id in session_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def terminate_app_backends():
    """Close every other connection to the test database from the server side; return how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def assert_each_email_sent_once(resend, session_ids):
    assert resend.sent_per_address() == {f"{session_id}@example.com": 2 for session_id in session_ids}


def test_webhook_after_terminated_connection(gunicorn, stripe_endpoint, run_worker, resend):
    server = gunicorn(workers=1, CONN_HEALTH_CHECKS=True, **KEPT_CONNECTIONS)
    assert deliver(server, "cs_test_before") == 200
    run_worker()

    assert terminate_app_backends() >= 1
    assert deliver(server, "cs_test_after") == 200
    run_worker()

    sessions = ["cs_test_before", "cs_test_after"]
    assert sorted(DFYOrder.objects.values_list("stripe_checkout_session_id", flat=True)) == sorted(sessions)
    assert_each_email_sent_once(resend, sessions)


def test_terminated_connection_without_health_checks(gunicorn, stripe_endpoint):
    # The control run: nothing tests the kept connection before its first use.
    server = gunicorn(workers=1, CONN_HEALTH_CHECKS=False, **KEPT_CONNECTIONS)
    assert deliver(server, "cs_test_before") == 200

    assert terminate_app_backends() >= 1
    first_after = deliver(server, "cs_test_after")

    assert first_after == 500
    assert not DFYOrder.objects.filter(stripe_checkout_session_id="cs_test_after").exists()
    # Django closes a connection that failed, so Stripe's retry succeeds.
    assert deliver(server, "cs_test_after") == 200
    assert DFYOrder.objects.count() == 2


# The emails sent at once; the worker also queues an intake reminder for two days later.
ONBOARDING_TEMPLATES = ["welcome", "intake"]


def wait_for_idle_worker(timeout=30):
    """Wait until no task is running or due now."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        due = Q(run_after__isnull=True) | Q(run_after__lte=timezone.now())
        busy = DBTaskResult.objects.filter(Q(status="RUNNING") | (Q(status="READY") & due))
        if not busy.exists():
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker was still busy after {timeout} s")


def wait_for_sent_emails(order_session_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = list(
            OutboxEmail.objects.filter(
                order__stripe_checkout_session_id=order_session_id, template__in=ONBOARDING_TEMPLATES
            ).values_list("state", flat=True)
        )
        if states == [OutboxEmail.State.SENT] * 2:
            return
        time.sleep(0.2)
    raise AssertionError(f"emails of {order_session_id} not sent in {timeout} s: {states}")


def test_running_worker_after_terminated_connection(gunicorn, stripe_endpoint, resend):
    server = gunicorn(workers=1, **KEPT_CONNECTIONS)
    worker = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "db_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"],
        cwd=BASE_DIR,
        env=child_env(RESEND_API_KEY="re_test_double", RESEND_API_URL=resend.url_for("/"), **KEPT_CONNECTIONS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert deliver(server, "cs_test_before") == 200
        wait_for_sent_emails("cs_test_before")
        # The order's task goes on after the emails (staff alert, Stripe mirror
        # sync, reminder), and a connection lost inside a task stops
        # django-tasks-db 0.13's worker, so terminate only between tasks.
        wait_for_idle_worker()

        assert terminate_app_backends() >= 2
        assert deliver(server, "cs_test_after") == 200
        wait_for_sent_emails("cs_test_after")
        assert worker.poll() is None, "the worker exited after its connection was closed"
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=30)

    assert "OperationalError" not in errors
    assert_each_email_sent_once(resend, ["cs_test_before", "cs_test_after"])


def count_rows(url, table):
    return query(url, f"SELECT count(*) FROM {table}")[0][0]


def test_database_restart(throwaway_postgres, gunicorn, stripe_endpoint, run_worker, resend):
    database_url = throwaway_postgres.copy_database(child_env()["DATABASE_URL"], "levqor_restart")
    server = gunicorn(workers=2, DATABASE_URL=database_url, **KEPT_CONNECTIONS)
    before = [f"cs_test_before{number}" for number in range(4)]
    after = [f"cs_test_after{number}" for number in range(4)]

    assert set(deliver_together(server, before).values()) == {200}
    throwaway_postgres.restart()

    assert set(deliver_together(server, after).values()) == {200}
    setup = manage("setup_webhook_endpoint", "--secret", WEBHOOK_SECRET, env=child_env(DATABASE_URL=database_url))
    sent = manage(
        "send_test_webhook", "--url", server.base_url + LEGACY_WEBHOOK_PATH,
        "--session-id", "cs_test_command", "--email", "cs_test_command@example.com",
        env=child_env(DATABASE_URL=database_url),
    )
    run_worker(DATABASE_URL=database_url)

    assert setup.returncode == 0, setup.stderr[-2000:]
    assert sent.returncode == 0, sent.stderr[-2000:]
    assert count_rows(database_url, DFYOrder._meta.db_table) == 9
    # Nine orders, each with a welcome, an intake and (two days later) an intake reminder row.
    assert count_rows(database_url, OutboxEmail._meta.db_table) == 27
    assert_each_email_sent_once(resend, [*before, *after, "cs_test_command"])
