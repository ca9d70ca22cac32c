"""Staff alerts: Telegram and staff email channels, their failures, and alert_staff() for other callers."""

import pytest
from django_tasks_db.models import DBTaskResult

from onboarding import delivery
from onboarding.alerts import alert_staff
from onboarding.models import StaffAlert
from onboarding.tasks import deliver_items, deliver_order
from orders.models import DFYOrder
from tests.conftest import checkout_event, free_port
from tests.doubles import telegram as telegram_double
from tests.faults import failing_inserts

pytestmark = pytest.mark.django_db


def paid_order(webhook, **session_fields):
    response = webhook.post(checkout_event(**session_fields))
    assert response.status_code == 200
    return DFYOrder.objects.get()


def alert(kind="new_order"):
    return StaffAlert.objects.get(kind=kind)


def test_new_order_alert_by_telegram(webhook, telegram, resend_backend):
    order = paid_order(webhook)

    assert DBTaskResult.objects.count() == 1
    deliver_order.call(order.pk)

    (text,) = telegram.texts()
    assert text.startswith("[Levqor] New order\n")
    assert f"New order {order.reference}: STARTER for £99.00 from customer@example.com." in text
    assert f"/admin/orders/dfyorder/{order.pk}/change/" in text
    sent = alert()
    assert sent.state == StaffAlert.State.SENT
    assert sent.provider_message_id == "1"
    assert order.activities.filter(kind="alert.sent").count() == 1


def test_new_order_alert_by_staff_email(webhook, resend_backend, settings):
    settings.STAFF_ALERT_EMAILS = ["ops@levqor.example", "owner@levqor.example"]
    order = paid_order(webhook)

    deliver_order.call(order.pk)

    staff = [message for message in resend_backend.delivered() if message["subject"] == "[Levqor] New order"]
    assert len(staff) == 1
    assert staff[0]["to"] == ["ops@levqor.example", "owner@levqor.example"]
    assert alert().channel == StaffAlert.Channel.EMAIL


def test_unconfigured_channel_is_visible_on_the_order(webhook):
    order = paid_order(webhook)

    assert order.status == DFYOrder.Status.NEW
    assert StaffAlert.objects.count() == 0
    activity = order.activities.get(kind="alert.not_configured")
    assert "TELEGRAM_BOT_TOKEN" in activity.message
    assert "New order" in activity.message


def test_alert_queue_failure_keeps_the_order(webhook, telegram):
    with failing_inserts("onboarding_staffalert"):
        response = webhook.post(checkout_event())

    assert response.status_code == 200
    order = DFYOrder.objects.get()
    assert order.status == DFYOrder.Status.NEW
    assert order.emails.count() == 2
    assert order.activities.filter(kind="alert.failed").count() == 1


def test_telegram_server_error_is_retried(webhook, telegram, resend_backend):
    telegram.faults.append((502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}))
    order = paid_order(webhook)

    deliver_order.call(order.pk)

    queued = alert()
    assert queued.state == StaffAlert.State.QUEUED
    assert queued.attempt_log.get().status_code == 502
    assert order.activities.filter(kind="alert.retrying").count() == 1
    assert order.status == DFYOrder.Status.NEW


def test_telegram_rate_limit_uses_retry_after(webhook, telegram, resend_backend, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0.01
    telegram.faults.append(telegram_double.rate_limited(retry_after=30))
    order = paid_order(webhook)

    deliver_order.call(order.pk)

    queued = alert()
    attempt = queued.attempt_log.get()
    assert (attempt.retry_at - attempt.finished_at).total_seconds() >= 29


def test_wrong_bot_token_fails_permanently(webhook, telegram, resend_backend, settings):
    settings.TELEGRAM_BOT_TOKEN = "999:wrong-token"
    order = paid_order(webhook)

    deliver_order.call(order.pk)

    failed = alert()
    assert failed.state == StaffAlert.State.FAILED
    assert failed.failure == StaffAlert.Failure.PERMANENT
    assert "401" in failed.last_error
    assert "wrong-token" not in failed.last_error
    assert order.activities.filter(kind="alert.failed").count() == 1
    assert DFYOrder.objects.get().status == DFYOrder.Status.NEW


def test_refused_connection_is_retried_without_the_token(webhook, telegram, resend_backend, settings):
    settings.TELEGRAM_API_BASE = f"http://127.0.0.1:{free_port()}"
    order = paid_order(webhook)

    deliver_order.call(order.pk)

    queued = alert()
    assert queued.state == StaffAlert.State.QUEUED
    assert "could not be reached (ConnectionError)" in queued.last_error
    assert telegram_double.TOKEN not in queued.last_error
    assert telegram_double.TOKEN not in str(list(order.activities.values_list("message", flat=True)))


def test_slow_telegram_times_out(webhook, telegram, resend_backend, settings):
    settings.TELEGRAM_TIMEOUT = 0.3
    telegram.faults.append(("slow", 0.6))
    order = paid_order(webhook)

    deliver_order.call(order.pk)

    assert "timed out after 0.3 s" in alert().last_error


def test_alert_without_order_is_sent_once_per_key(telegram):
    first = alert_staff("stripe_webhook_failing", "Three webhook deliveries failed in a row.", key="webhook-failing:2026-12-04")
    second = alert_staff("stripe_webhook_failing", "Three webhook deliveries failed in a row.", key="webhook-failing:2026-12-04")

    assert len(first) == 1
    assert second == []
    task = DBTaskResult.objects.get()
    deliver_items.call(*task.args_kwargs["args"])
    assert telegram.texts() == ["[Levqor] Stripe webhook failing\nThree webhook deliveries failed in a row."]


def test_alert_without_key_or_order_is_always_sent(telegram):
    alert_staff("daily_report", "All good.")
    alert_staff("daily_report", "All good.")

    assert StaffAlert.objects.filter(kind="daily_report").count() == 2


def test_failed_delayed_payment_alerts_staff(webhook, telegram):
    webhook.post(checkout_event(payment_status="unpaid"))
    webhook.post(checkout_event("checkout.session.async_payment_failed", payment_status="unpaid"))

    order = DFYOrder.objects.get()
    assert order.status == DFYOrder.Status.PAYMENT_FAILED
    problem = alert("payment_problem")
    assert "The delayed payment failed." in problem.message
    assert problem.key == f"order:{order.pk}:payment_problem:payment_failed"
    assert DBTaskResult.objects.count() == 1


def test_order_needing_review_alerts_staff(webhook, telegram):
    webhook.post(checkout_event(metadata={}))

    problem = alert("payment_problem")
    assert "Order needs review: session metadata has no mode or plan." in problem.message
    assert DBTaskResult.objects.count() == 1
    delivery.deliver("alert", problem.pk)
    # Any text, not the first: a slow request of an earlier test can arrive after the reset.
    assert any("needs review" in text for text in telegram.texts())
