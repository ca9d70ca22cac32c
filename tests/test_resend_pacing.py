"""Resend's rate limit: every worker's requests share one pace, and a 429 pauses them all."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from onboarding import pacing
from onboarding.models import OutboxEmail
from onboarding.resend_backend import PACE_NAME
from onboarding.tasks import deliver_order
from orders.models import DFYOrder
from tests.conftest import checkout_event

RATE_LIMITED = (429, {"statusCode": 429, "name": "rate_limit_exceeded"}, {"Retry-After": "3"})


@pytest.fixture
def two_orders(webhook, resend_backend):
    for index in range(2):
        webhook.post(checkout_event(session_id=f"cs_test_pace{index}", email=f"pace{index}@example.com"))
    return list(DFYOrder.objects.order_by("id"))


@pytest.mark.django_db
def test_sends_keep_configured_rate(two_orders, resend, settings):
    settings.RESEND_RATE_LIMIT_PER_SECOND = 4
    started = time.monotonic()

    for order in two_orders:
        deliver_order.call(order.pk)

    assert OutboxEmail.objects.filter(template__in=["welcome", "intake"], state="sent").count() == 4
    assert len(resend.delivered()) == 4
    # Four requests at 4 per second: the last one starts at least 0.75 s after the first.
    assert time.monotonic() - started >= 0.7


@pytest.mark.django_db
def test_rate_limit_response_holds_off_senders(two_orders, resend, settings):
    settings.RESEND_RATE_LIMIT_PER_SECOND = 100
    resend.faults.append(RATE_LIMITED)
    before = timezone.now()

    deliver_order.call(two_orders[0].pk)

    assert OutboxEmail.objects.get(order=two_orders[0], template="welcome").attempt_log.get().status_code == 429
    assert pacing.reserve_slot(PACE_NAME, 0.01) >= before + timedelta(seconds=3)


@pytest.mark.django_db
def test_short_rate_limit_retried_in_place(two_orders, resend, settings):
    settings.RESEND_RATE_LIMIT_PER_SECOND = 100
    resend.faults.append((429, {"statusCode": 429, "name": "rate_limit_exceeded"}, {"Retry-After": "1"}))
    started = time.monotonic()

    deliver_order.call(two_orders[0].pk)

    welcome = OutboxEmail.objects.get(order=two_orders[0], template="welcome")
    assert welcome.state == OutboxEmail.State.SENT
    assert welcome.attempts == 1
    assert welcome.attempt_log.get().status_code is None
    assert [message["subject"] for message in resend.sent()].count(welcome.subject) == 2
    assert len(resend.delivered()) == 2
    assert time.monotonic() - started >= 1.0


@pytest.mark.django_db
def test_zero_rate_turns_pacing_off(settings):
    assert pacing.wait_for_slot(PACE_NAME, 0) == 0.0
    assert pacing.wait_for_slot(PACE_NAME, 0) == 0.0


def test_concurrent_senders_share_slots(transactional_db):
    slots, errors = [], []

    def reserve_three():
        try:
            for _ in range(3):
                slots.append(pacing.reserve_slot(PACE_NAME, 0.1))
        except Exception as exc:  # reported by the assert below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve_three) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(slots) == 6
    ordered = sorted(slots)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(ordered, ordered[1:])]
    assert min(gaps) >= 0.1 - 1e-6
