"""From webhook to sent email: the task worker process and the Resend API double."""

from datetime import timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from onboarding.models import OutboxEmail
from onboarding.sweeper import sweep
from orders.models import DFYOrder
from tests.conftest import checkout_event
from tests.faults import failing_inserts


def sent_to(resend, address):
    return sorted(message["subject"] for message in resend.sent() if address in message["to"][0])


@pytest.fixture
def committed_webhook(transactional_db, webhook):
    """Deliveries whose effects are committed, so the worker process can read them."""
    return webhook


def test_paid_order_sends_each_email_once(committed_webhook, run_worker, resend):
    stripe_event = checkout_event()
    committed_webhook.post(stripe_event)
    committed_webhook.post(stripe_event)

    run_worker()
    run_worker()

    assert sent_to(resend, "customer@example.com") == [
        "Next step: Tell us about your automation needs",
        "Welcome! Your STARTER order is confirmed",
    ]
    assert len(resend.sent()) == 2
    emails = OutboxEmail.objects.filter(template__in=["welcome", "intake"])
    assert {email.state for email in emails} == {OutboxEmail.State.SENT}
    assert all(email.provider_message_id for email in emails)
    assert all(email.attempts == 1 for email in emails)
    assert {email.provider_message_id for email in emails} == {message["id"] for message in resend.delivered()}
    order = DFYOrder.objects.get()
    assert list(order.activities.filter(kind="email.sent").values_list("kind", flat=True)) == ["email.sent"] * 2


def test_intake_reminder_waits_48_hours(committed_webhook, run_worker):
    committed_webhook.post(checkout_event())

    run_worker()

    intake = OutboxEmail.objects.get(template="intake")
    reminder = OutboxEmail.objects.get(template="intake_reminder")
    assert reminder.state == OutboxEmail.State.QUEUED
    assert reminder.next_attempt_at - intake.sent_at == timedelta(hours=48)
    delayed = DBTaskResult.objects.get(status="READY")
    assert delayed.run_after == reminder.next_attempt_at
    assert delayed.args_kwargs["args"] == [[["email", reminder.pk]]]


def test_one_task_per_paid_order(committed_webhook):
    committed_webhook.post(checkout_event())

    assert DBTaskResult.objects.count() == 1
    assert DBTaskResult.objects.get().task_path == "onboarding.tasks.deliver_order"
    assert OutboxEmail.objects.filter(state=OutboxEmail.State.QUEUED).count() == 2


def test_recipient_name_with_comma_and_accent(committed_webhook, run_worker, resend):
    committed_webhook.post(checkout_event(name='Siobhán "Shiv" O\'Brien, Ltd'))

    run_worker()

    recipients = {message["to"][0] for message in resend.sent()}
    assert len(recipients) == 1
    (recipient,) = recipients
    assert recipient.endswith("<customer@example.com>")
    assert len(resend.sent()[0]["to"]) == 1


# C03: emails queued in a transaction that rolls back must never leave


def test_rolled_back_fulfilment_sends_nothing(committed_webhook, run_worker, resend):
    stripe_event = checkout_event()

    with failing_inserts("orders_dfyactivity", "NEW.kind = 'email.queued'"):
        failed = committed_webhook.post(stripe_event)

    assert failed.status_code == 500
    assert DFYOrder.objects.count() == 0
    assert OutboxEmail.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    run_worker()
    assert resend.sent() == []

    retried = committed_webhook.post(stripe_event)
    run_worker()

    assert retried.status_code == 200
    assert len(resend.sent()) == 2
    assert OutboxEmail.objects.filter(state=OutboxEmail.State.SENT).count() == 2


def test_sent_state_and_reminder_are_written_together(committed_webhook, run_worker, resend, settings):
    committed_webhook.post(checkout_event())

    # The intake email goes out, then writing its reminder fails: the "sent"
    # state must not be committed without the reminder, or no sweep would
    # ever queue it.
    with failing_inserts("onboarding_outboxemail", "NEW.template = 'intake_reminder'"):
        run_worker()

    intake = OutboxEmail.objects.get(template="intake")
    assert intake.state == OutboxEmail.State.SENDING
    assert not OutboxEmail.objects.filter(template="intake_reminder").exists()

    settings.OUTBOX_STALE_SECONDS = 0
    assert sweep().recovered == 1
    run_worker()

    intake.refresh_from_db()
    assert intake.state == OutboxEmail.State.SENT
    assert OutboxEmail.objects.get(template="intake_reminder").state == OutboxEmail.State.QUEUED
    assert resend.sent_per_address() == {"customer@example.com": 2}
    assert len(resend.sent()) == 3


def test_provider_error_is_recorded_on_the_order(committed_webhook, run_worker, resend):
    resend.faults.append((422, {"statusCode": 422, "name": "validation_error", "message": "Invalid `to` field."}))
    committed_webhook.post(checkout_event())

    run_worker()

    failed = OutboxEmail.objects.get(state=OutboxEmail.State.FAILED)
    assert "Invalid `to` field" in failed.last_error
    assert "re_test_double" not in failed.last_error
    assert failed.failure == OutboxEmail.Failure.PERMANENT
    assert failed.attempts == 1
    assert failed.attempt_log.get().status_code == 422
    order = DFYOrder.objects.get()
    assert order.activities.filter(kind="email.failed").count() == 1
    assert OutboxEmail.objects.filter(state=OutboxEmail.State.SENT).count() == 1
    assert len(resend.sent()) == 2
