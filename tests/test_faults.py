"""The fault matrix: poison events, a database outage during a delivery, and email provider failures.

Each fault must lose no payment and no message, double nothing, and leave
what failed visible to staff in the admin.
"""

import contextlib
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone
from django.db import connection
from django.utils.html import escape
from djstripe.models import Event, WebhookEventTrigger

from onboarding.models import OutboxEmail
from onboarding.resend_backend import IN_PLACE_RETRIES
from orders import sample_events
from orders.models import DFYOrder
from tests.conftest import LEGACY_WEBHOOK_PATH, WEBHOOK_SECRET, checkout_event, child_env, free_port, manage
from tests.pgserver import query

ADMIN_HOST = {"HTTP_HOST": "127.0.0.1"}


def admin_page(admin_client, path, **params):
    response = admin_client.get(path, params, **ADMIN_HOST)
    assert response.status_code == 200
    return response.content.decode()


# Poison events: a valid signature on content that makes no sense


def set_field(path, value):
    """Return a function that sets one field of an event, found by its key path."""

    def change(stripe_event):
        target = stripe_event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return stripe_event

    return change


def drop_data(stripe_event):
    del stripe_event["data"]
    return stripe_event


SESSION = ("data", "object")
IGNORED = None
NEEDS_REVIEW = DFYOrder.Status.NEEDS_REVIEW

POISON_EVENTS = {
    "object-of-another-type": (set_field((*SESSION, "object"), "customer"), IGNORED),
    "object-a-list": (set_field(SESSION, [{"id": "cs_test_A"}]), IGNORED),
    "object-a-string": (set_field(SESSION, "cs_test_A"), IGNORED),
    "data-a-list": (set_field(("data",), [1, 2]), IGNORED),
    "data-missing": (drop_data, IGNORED),
    "session-id-a-number": (set_field((*SESSION, "id"), 12345), IGNORED),
    "session-id-an-object": (set_field((*SESSION, "id"), {"id": "cs_test_A"}), IGNORED),
    "event-id-a-number": (set_field(("id",), 12345), IGNORED),
    "event-type-a-number": (set_field(("type",), 7), IGNORED),
    "created-a-string": (set_field(("created",), "yesterday"), IGNORED),
    "livemode-a-string": (set_field(("livemode",), "false"), IGNORED),
    "request-a-list": (set_field(("request",), ["req_1"]), IGNORED),
    "account-of-another-platform": (set_field(("account",), "acct_someone_else"), IGNORED),
    "metadata-a-string": (set_field((*SESSION, "metadata"), "mode=dfy&plan=starter"), NEEDS_REVIEW),
    "metadata-a-list": (set_field((*SESSION, "metadata"), ["dfy", "starter"]), NEEDS_REVIEW),
    "metadata-values-objects": (set_field((*SESSION, "metadata"), {"mode": {"x": 1}, "plan": [1]}), NEEDS_REVIEW),
    "amount-a-string": (set_field((*SESSION, "amount_total"), "9900"), NEEDS_REVIEW),
    "amount-a-float": (set_field((*SESSION, "amount_total"), 99.0), NEEDS_REVIEW),
    "currency-a-number": (set_field((*SESSION, "currency"), 826), NEEDS_REVIEW),
    "customer-details-a-string": (set_field((*SESSION, "customer_details"), "Jane"), NEEDS_REVIEW),
    "customer-email-a-number": (set_field((*SESSION, "customer_details", "email"), 5), NEEDS_REVIEW),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", POISON_EVENTS)
def test_poison_event_breaks_nothing(webhook, stripe_api, admin_client, caplog, case):
    change, expected_status = POISON_EVENTS[case]

    response = webhook.post(change(checkout_event()))

    assert response.status_code == 200
    assert stripe_api.requests() == []
    assert OutboxEmail.objects.count() == 0
    if expected_status is IGNORED:
        assert DFYOrder.objects.count() == 0
        trigger = WebhookEventTrigger.objects.get()
        assert trigger.valid
        assert trigger.exception.startswith("Ignored: ")
        warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
        assert any("cannot be processed" in message and f"trigger {trigger.pk}," in message for message in warnings)
        assert escape(trigger.exception) in admin_page(admin_client, "/admin/djstripe/webhookeventtrigger/")
    else:
        order = DFYOrder.objects.get(stripe_checkout_session_id="cs_test_A")
        assert order.status == expected_status
        listing = admin_page(admin_client, "/admin/orders/dfyorder/", status__exact=expected_status)
        assert order.reference in listing

    # The next event is processed as usual.
    assert webhook.post(checkout_event(session_id="cs_test_next")).status_code == 200
    assert DFYOrder.objects.get(stripe_checkout_session_id="cs_test_next").status == DFYOrder.Status.NEW


@pytest.mark.django_db
def test_poison_event_redelivery_is_acknowledged(webhook):
    poison = set_field(("data",), [1, 2])(checkout_event())

    statuses = [webhook.post(poison).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert Event.objects.count() == 0
    assert WebhookEventTrigger.objects.filter(exception__startswith="Ignored: ").count() == 3


# The database is unavailable for a moment during a delivery


@dataclass
class Outage:
    """The database that gunicorn uses, and a way to take it away during a delivery."""

    database_url: str
    server_env: dict
    unavailable: Callable
    count_rows: Callable


def postgres_outage(server):
    database_url = server.copy_database(child_env()["DATABASE_URL"], "levqor_outage")

    @contextlib.contextmanager
    def stopped_server():
        server.stop()
        try:
            yield
        finally:
            server.start()

    def count_rows(model):
        return query(database_url, f"SELECT count(*) FROM {model._meta.db_table}")[0][0]

    return Outage(database_url, {"DATABASE_URL": database_url, "CONN_MAX_AGE": 600}, stopped_server, count_rows)


def sqlite_outage():
    @contextlib.contextmanager
    def write_lock_held():
        # Another process holding SQLite's single write lock for longer than
        # the server's busy timeout is SQLite's way of being unavailable.
        holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()

    return Outage(child_env()["DATABASE_URL"], {"SQLITE_BUSY_TIMEOUT": 1}, write_lock_held, lambda model: model.objects.count())


@pytest.fixture
def outage(request, transactional_db, stripe_endpoint):
    """The database of the test, with the endpoint set up; on PostgreSQL a copy in a server the test owns."""
    if connection.vendor == "postgresql":
        return postgres_outage(request.getfixturevalue("throwaway_postgres"))
    return sqlite_outage()


def test_database_unavailable_during_delivery(outage, gunicorn, stripe_endpoint, run_worker, resend):
    server = gunicorn(workers=1, **outage.server_env)
    url = server.base_url + LEGACY_WEBHOOK_PATH
    before = checkout_event(session_id="cs_test_before", email="before@example.com")
    during = checkout_event(session_id="cs_test_during", email="during@example.com")
    assert sample_events.deliver(url, before, WEBHOOK_SECRET)[0] == 200

    with outage.unavailable():
        status_during = sample_events.deliver(url, during, WEBHOOK_SECRET)[0]

    assert status_during == 500
    assert outage.count_rows(WebhookEventTrigger) == 1
    assert outage.count_rows(DFYOrder) == 1
    assert outage.count_rows(Event) == 1
    # Stripe's retry after the outage.
    assert sample_events.deliver(url, during, WEBHOOK_SECRET)[0] == 200
    assert outage.count_rows(DFYOrder) == 2
    assert outage.count_rows(Event) == 2
    run_worker(DATABASE_URL=outage.database_url)
    assert resend.sent_per_address() == {"before@example.com": 2, "during@example.com": 2}


# The email provider fails: each failure is recorded and shown, nothing is sent twice


def resend_fault(resend, status, headers=None):
    resend.faults.append((status, {"statusCode": status, "name": "fault", "message": f"injected {status}"}, headers or {}))
    return {}


def resend_rate_limited(resend):
    # One 429 for the first request and for each of the backend's in-place retries.
    for _ in range(IN_PLACE_RETRIES + 1):
        resend_fault(resend, 429, {"retry-after": "1"})
    return {}


def resend_timeout(resend):
    # The double responds to the welcome email at once and to the intake email after the timeout.
    resend.faults.extend([("slow", 0), ("slow", 2)])
    return {"DJANGO_SETTINGS_MODULE": "tests.email_timeout_settings"}


def resend_closed_port(resend):
    return {"RESEND_API_URL": f"http://127.0.0.1:{free_port()}/"}


RESEND_FAULTS = {
    "server-error-500": (lambda resend: resend_fault(resend, 500), {"welcome"}, "injected 500"),
    "rate-limited-429": (lambda resend: resend_rate_limited(resend), {"welcome"}, "injected 429"),
    "timeout": (resend_timeout, {"intake"}, "timed out"),
    "connection-refused": (resend_closed_port, {"welcome", "intake"}, "Connection refused"),
}


# The kind column of an activity row in the order page's timeline.
RETRYING_KIND_CELL = re.compile(r'<td class="field-kind">\s*<p>email\.retrying</p>')
ONBOARDING_TEMPLATES = ("welcome", "intake")


def wait_for_requests(resend, count, timeout=10):
    """Wait until the double has responded to `count` requests, so a late response cannot land in the next test's log."""
    deadline = time.monotonic() + timeout
    while len(resend.requests()) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("case", RESEND_FAULTS)
def test_email_provider_failure_is_visible(transactional_db, webhook, run_worker, resend, admin_client, case):
    inject, failed_templates, error = RESEND_FAULTS[case]
    worker_env = inject(resend)
    webhook.post(checkout_event())

    run_worker(**worker_env)

    # A timeout, 429, 5xx or refused connection is temporary: the row waits for its retry.
    emails = OutboxEmail.objects.filter(template__in=ONBOARDING_TEMPLATES)
    retrying = emails.filter(state=OutboxEmail.State.QUEUED, attempts=1)
    assert set(retrying.values_list("template", flat=True)) == failed_templates
    assert all(error in email.last_error for email in retrying)
    assert all(email.next_attempt_at is not None for email in retrying)
    assert all("re_test_double" not in email.last_error for email in retrying)
    assert emails.filter(state=OutboxEmail.State.SENT).count() == 2 - len(failed_templates)
    order = DFYOrder.objects.get()
    assert order.activities.filter(kind="email.retrying").count() == len(failed_templates)

    listing = admin_page(admin_client, "/admin/onboarding/outboxemail/", state__exact="queued")
    for template in failed_templates:
        assert f"<td class=\"field-template\">{template}</td>" in listing
    order_page = admin_page(admin_client, f"/admin/orders/dfyorder/{order.pk}/change/")
    assert len(RETRYING_KIND_CELL.findall(order_page)) == len(failed_templates)
    for template in failed_templates:
        assert f"{template.capitalize()} email to customer@example.com failed (attempt 1)" in order_page
    assert error in order_page

    if case == "timeout":
        # The provider may still have accepted the email that timed out.
        wait_for_requests(resend, 2)

    # The fault is gone when the retry is due: each email ends sent exactly once.
    # The sweeper enqueues the retry now instead of at its delayed task's time.
    retrying.update(next_attempt_at=timezone.now(), task_due_at=None)
    sweeper = manage("outbox_sweeper", "--once")
    assert sweeper.returncode == 0, sweeper.stderr[-2000:]
    run_worker()

    assert emails.filter(state=OutboxEmail.State.SENT).count() == 2
    assert resend.sent_per_address()["customer@example.com"] == 2
