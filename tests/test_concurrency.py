"""Concurrent deliveries against gunicorn with several worker processes (real HTTP on 127.0.0.1)."""

import threading

import pytest
from djstripe.models import Event

from onboarding.models import OutboxEmail
from orders import sample_events
from orders.models import DFYOrder
from tests.conftest import WEBHOOK_SECRET, checkout_event

ROUNDS = 10


def deliver_together(url, events):
    """POST the events at the same moment from one thread each; return the HTTP statuses."""
    barrier = threading.Barrier(len(events))
    statuses = [None] * len(events)

    def send(index, stripe_event):
        barrier.wait()
        statuses[index] = sample_events.deliver(url, stripe_event, WEBHOOK_SECRET)[0]

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.fixture
def server_url(gunicorn, stripe_endpoint):
    server = gunicorn(workers=2)
    return f"{server.base_url}/stripe/webhook/{stripe_endpoint.djstripe_uuid}/"


# C16 on the SQLite default, and C01 (b) wherever DATABASE_URL points


def test_two_sessions_at_once(server_url):
    statuses = []
    for round_number in range(ROUNDS):
        events = [checkout_event(session_id=f"cs_test_pair{round_number}_{side}") for side in "ab"]
        statuses += deliver_together(server_url, events)

    assert statuses == [200] * (2 * ROUNDS)
    assert DFYOrder.objects.count() == 2 * ROUNDS
    assert OutboxEmail.objects.count() == 4 * ROUNDS


def test_same_event_twice_at_once(server_url):
    statuses = []
    for round_number in range(ROUNDS):
        stripe_event = checkout_event(session_id=f"cs_test_same{round_number}")
        statuses += deliver_together(server_url, [stripe_event, stripe_event])

    assert statuses == [200] * (2 * ROUNDS)
    assert DFYOrder.objects.count() == ROUNDS
    assert Event.objects.count() == ROUNDS
    assert OutboxEmail.objects.count() == 2 * ROUNDS


def test_two_events_for_one_session_at_once(server_url):
    statuses = []
    for round_number in range(ROUNDS):
        session_id = f"cs_test_twoevents{round_number}"
        events = [checkout_event(session_id=session_id), checkout_event(session_id=session_id)]
        statuses += deliver_together(server_url, events)

    assert statuses == [200] * (2 * ROUNDS)
    assert DFYOrder.objects.count() == ROUNDS
    assert OutboxEmail.objects.count() == 2 * ROUNDS
