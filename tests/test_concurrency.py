"""Concurrent deliveries against gunicorn with four worker processes (real HTTP on 127.0.0.1).

On SQLite the writers must queue for the write lock (WAL, immediate
transactions and a busy timeout) instead of failing with "database is locked".
On PostgreSQL deliveries of one event or one session race for the same keys.
"""

import random
import threading
import time

import pytest
from django_tasks_db.models import DBTaskResult
from djstripe.models import Event

from onboarding.models import OutboxEmail
from orders import sample_events
from orders.models import DFYOrder
from tests.conftest import WEBHOOK_SECRET, checkout_event

BURST = 50
# In live mode Stripe retries a delivery that got a 5xx response for up to
# three days, so the tests retry a few times within seconds.
RETRIES = 5


def deliver_with_retries(url, stripe_event):
    """POST one event, and again after each 5xx response; return every status received."""
    statuses = []
    for attempt in range(RETRIES):
        statuses.append(sample_events.deliver(url, stripe_event, WEBHOOK_SECRET)[0])
        if statuses[-1] < 500:
            break
        time.sleep(0.2 * (attempt + 1))
    return statuses


def deliver_burst(url, events):
    """Deliver the events at the same moment, retrying 5xx responses; return (final statuses, 5xx count)."""
    barrier = threading.Barrier(len(events))
    histories = [None] * len(events)

    def send(index, stripe_event):
        barrier.wait()
        histories[index] = deliver_with_retries(url, stripe_event)

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    server_errors = sum(status >= 500 for history in histories for status in history)
    return [history[-1] for history in histories], server_errors


@pytest.fixture
def busy_server_url(gunicorn, stripe_endpoint):
    server = gunicorn(workers=4)
    return f"{server.base_url}/stripe/webhook/{stripe_endpoint.djstripe_uuid}/"


def onboarding_emails():
    """The welcome and intake rows; the worker also queues an intake reminder for two days later."""
    return OutboxEmail.objects.filter(template__in=["welcome", "intake"])


def test_one_session_at_once(busy_server_url, run_worker, resend):
    stripe_event = checkout_event(session_id="cs_test_burst", email="burst@example.com")
    other_event_ids = [
        checkout_event(session_id="cs_test_burst", email="burst@example.com") for _ in range(BURST)
    ]

    # The same event fifty times at once, again as redeliveries, then fifty
    # other event ids for the same session.
    for burst in ([stripe_event] * BURST, [stripe_event] * BURST, other_event_ids):
        statuses, server_errors = deliver_burst(busy_server_url, burst)
        assert statuses == [200] * BURST, f"{server_errors} responses were 5xx"
    # One task per paid order, enqueued by the webhook; the worker adds the reminder's later.
    assert DBTaskResult.objects.count() == 1
    run_worker()

    assert DFYOrder.objects.count() == 1
    assert Event.objects.count() == 1 + BURST
    assert onboarding_emails().count() == 2
    assert resend.sent_per_address() == {"burst@example.com": 2}


def test_fifty_sessions_at_once(busy_server_url, run_worker, resend):
    events = [checkout_event(session_id=f"cs_test_burst{number}", email=f"burst{number}@example.com") for number in range(BURST)]
    redeliveries = random.Random(7).sample(events, len(events))

    for burst in (events, redeliveries):
        statuses, server_errors = deliver_burst(busy_server_url, burst)
        assert statuses == [200] * BURST, f"{server_errors} responses were 5xx"
    run_worker()

    assert DFYOrder.objects.count() == BURST
    assert Event.objects.count() == BURST
    assert onboarding_emails().count() == 2 * BURST
    assert set(onboarding_emails().values_list("state", flat=True)) == {OutboxEmail.State.SENT}
    assert resend.sent_per_address() == {f"burst{number}@example.com": 2 for number in range(BURST)}
