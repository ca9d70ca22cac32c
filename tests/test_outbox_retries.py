"""The delivery pipeline in this process: retries, backoff, permanent errors, stale rows and the sweeper."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from onboarding import delivery, sweeper
from onboarding.models import DeliveryAttempt, OutboxEmail
from onboarding.tasks import deliver_order
from orders.models import DFYOrder
from tests.conftest import checkout_event, manage

pytestmark = pytest.mark.django_db

Outcome = DeliveryAttempt.Outcome
SERVER_ERROR = (500, {"statusCode": 500, "name": "internal_server_error", "message": "Something went wrong."})


@pytest.fixture
def order(webhook, resend_backend, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 10
    webhook.post(checkout_event())
    return DFYOrder.objects.get()


def email(template):
    return OutboxEmail.objects.get(template=template)


def make_due(item):
    """Move a row's next attempt into the past, as the clock would."""
    type(item).objects.filter(pk=item.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def tasks_for(item):
    """Return the deliver_items tasks that name one row."""
    return [
        task
        for task in DBTaskResult.objects.filter(task_path="onboarding.tasks.deliver_items")
        if ["email", item.pk] in task.args_kwargs["args"][0]
    ]


def welcomes(resend):
    return [message for message in resend.delivered() if message["subject"].startswith("Welcome")]


def test_backoff_doubles_with_jitter(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 10
    settings.OUTBOX_RETRY_MAX_SECONDS = 60

    for attempt, backoff in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [delivery.retry_delay(attempt) for _ in range(200)]
        assert min(delays) >= backoff / 2
        assert max(delays) <= backoff
        assert len(set(delays)) > 1


def test_backoff_never_before_retry_after(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0.1

    assert delivery.retry_delay(1, retry_after=7) == 7


def test_server_error_is_retried_later(order, resend):
    resend.faults.append(SERVER_ERROR)

    deliver_order.call(order.pk)

    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.QUEUED
    assert welcome.next_attempt_at > timezone.now() + timedelta(seconds=4)
    attempt = welcome.attempt_log.get()
    assert attempt.outcome == Outcome.RETRY
    assert attempt.status_code == 500
    assert attempt.retry_at == welcome.next_attempt_at
    (retry_task,) = tasks_for(welcome)
    assert retry_task.run_after == welcome.next_attempt_at
    assert welcome.task_due_at == welcome.next_attempt_at
    assert order.activities.filter(kind="email.retrying").count() == 1
    assert email("intake").state == OutboxEmail.State.SENT


def test_retry_waits_until_due(order, resend):
    resend.faults.append(SERVER_ERROR)
    deliver_order.call(order.pk)
    welcome = email("welcome")

    assert delivery.deliver("email", welcome.pk) is False
    assert email("welcome").attempts == 1

    make_due(welcome)
    assert delivery.deliver("email", welcome.pk) is True
    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.SENT
    assert welcome.attempts == 2
    assert [attempt.outcome for attempt in welcome.attempt_log.all()] == [Outcome.RETRY, Outcome.SENT]
    assert len(welcomes(resend)) == 1


def test_rate_limit_honours_retry_after(order, resend, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0.01
    resend.faults.append((429, {"statusCode": 429, "name": "rate_limit_exceeded"}, {"Retry-After": "5"}))
    before = timezone.now()

    deliver_order.call(order.pk)

    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.QUEUED
    assert welcome.next_attempt_at >= before + timedelta(seconds=5)
    assert welcome.attempt_log.get().status_code == 429


def test_timeout_retry_is_not_delivered_twice(order, resend, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": 0.5}
    resend.faults.append(("slow", 1.0))

    deliver_order.call(order.pk)

    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.QUEUED
    assert "ReadTimeout" in welcome.last_error
    # The double finishes the slow request after the client gave up, as a
    # real provider may: the email was accepted although the client timed out.
    time.sleep(0.8)
    make_due(welcome)
    assert delivery.deliver("email", welcome.pk) is True
    assert len(welcomes(resend)) == 1
    assert len([body for body in resend.sent() if body["subject"].startswith("Welcome")]) == 2
    assert email("welcome").provider_message_id == welcomes(resend)[0]["id"]


def test_invalid_recipient_is_not_retried(order, resend):
    resend.faults.append((422, {"statusCode": 422, "name": "validation_error", "message": "Invalid `to` field."}))

    deliver_order.call(order.pk)

    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.FAILED
    assert welcome.failure == OutboxEmail.Failure.PERMANENT
    assert welcome.attempt_log.get().outcome == Outcome.FAILED
    assert tasks_for(welcome) == []
    assert order.activities.filter(kind="email.failed").count() == 1


def test_retries_stop_at_the_limit(order, resend, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    resend.faults.extend([SERVER_ERROR, ("ok",), SERVER_ERROR])
    deliver_order.call(order.pk)
    make_due(email("welcome"))

    delivery.deliver("email", email("welcome").pk)

    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.FAILED
    assert welcome.failure == OutboxEmail.Failure.EXHAUSTED
    assert welcome.attempts == 2
    assert "gave up after 2 attempts" in order.activities.filter(kind="email.failed").get().message


def test_second_claim_finds_nothing(order):
    welcome = email("welcome")

    first = delivery.claim(OutboxEmail, welcome.pk, "worker-a", timezone.now())
    second = delivery.claim(OutboxEmail, welcome.pk, "worker-b", timezone.now())

    assert first == 1
    assert second is None
    assert email("welcome").claimed_by == "worker-a"


def claim_and_abandon(item, minutes_ago=30):
    """Leave a row as a killed worker does: claimed, "sending", never finished."""
    claimed_at = timezone.now() - timedelta(minutes=minutes_ago)
    delivery.claim(type(item), item.pk, "dead-host:4242", claimed_at)


def test_stale_sending_row_is_recovered_once(order, resend):
    welcome = email("welcome")
    claim_and_abandon(welcome)

    result = sweeper.sweep()

    assert result.recovered == 1
    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.QUEUED
    interrupted = welcome.attempt_log.get()
    assert interrupted.outcome == Outcome.INTERRUPTED
    assert "dead-host:4242" in interrupted.error
    assert "Idempotency-Key" in interrupted.error
    assert order.activities.filter(kind="email.recovered").count() == 1
    assert result.enqueued >= 1
    assert sweeper.sweep().recovered == 0


def test_recovered_row_keeps_its_idempotency_key(order, resend):
    deliver_order.call(order.pk)
    welcome = email("welcome")
    # The worker died after Resend accepted the welcome but before it was recorded.
    OutboxEmail.objects.filter(pk=welcome.pk).update(
        state=OutboxEmail.State.SENDING, claimed_at=timezone.now() - timedelta(hours=1), sent_at=None
    )
    sweeper.sweep()

    assert delivery.deliver("email", welcome.pk) is True

    assert len(welcomes(resend)) == 1
    assert {body["subject"] for body in resend.sent()}.issuperset({welcomes(resend)[0]["subject"]})
    assert welcomes(resend)[0]["idempotency_key"] == str(welcome.idempotency_key)


def test_fresh_sending_row_is_left_alone(order):
    welcome = email("welcome")
    claim_and_abandon(welcome, minutes_ago=1)

    assert sweeper.sweep().recovered == 0
    assert email("welcome").state == OutboxEmail.State.SENDING


def test_late_success_after_recovery_is_kept(order, resend):
    welcome = email("welcome")
    claim_and_abandon(welcome)
    sweeper.sweep()

    delivery.record_success(email("welcome"), 1, "dead-host:4242", timezone.now(), "resend-id-late")

    welcome = email("welcome")
    assert welcome.state == OutboxEmail.State.SENT
    assert welcome.provider_message_id == "resend-id-late"
    assert delivery.deliver("email", welcome.pk) is False


def test_sweeper_enqueues_rows_whose_task_was_lost(order, settings):
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 60
    DBTaskResult.objects.all().delete()
    OutboxEmail.objects.update(task_due_at=timezone.now() - timedelta(minutes=5))

    result = sweeper.sweep()

    assert result.enqueued == 2
    task = DBTaskResult.objects.get()
    assert task.task_path == "onboarding.tasks.deliver_items"
    assert sorted(item_id for _, item_id in task.args_kwargs["args"][0]) == sorted(
        OutboxEmail.objects.values_list("id", flat=True)
    )
    assert sweeper.sweep().enqueued == 0


def test_sweeper_leaves_rows_whose_task_is_pending(order):
    assert sweeper.sweep().enqueued == 0
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_sweeper_command_runs_one_pass(order):
    OutboxEmail.objects.update(task_due_at=None)

    result = manage("outbox_sweeper", "--once")

    assert result.returncode == 0, result.stderr[-2000:]
    assert "Sweep: 0 recovered, 2 enqueued" in result.stdout
    assert DBTaskResult.objects.filter(task_path="onboarding.tasks.deliver_items").count() == 1
