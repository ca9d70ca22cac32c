"""Webhook cases on the worker side: db_worker processes, gunicorn and the Resend double on 127.0.0.1."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from onboarding.models import DeliveryAttempt, OutboxEmail
from onboarding.resend_backend import IN_PLACE_RETRIES
from onboarding.tasks import deliver_items
from orders import sample_events
from orders.models import DFYActivity, DFYOrder
from tests.conftest import WEBHOOK_SECRET, checkout_event, resend_env, wait_for

Outcome = DeliveryAttempt.Outcome
SERVER_ERROR = (500, {"statusCode": 500, "name": "internal_server_error", "message": "Something went wrong."})
RATE_LIMITED = (429, {"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests."}, {"Retry-After": "1"})
# The Resend backend sends a request again in place after a short 429, so
# the outbox records a 429 only when every one of those requests got one.
RATE_LIMITED_IN_PLACE_TOO = [RATE_LIMITED] * (IN_PLACE_RETRIES + 1)
# Fast retries and a short provider timeout, so the cases run in seconds.
FAST_RETRIES = {"OUTBOX_RETRY_BASE_SECONDS": "0.2", "EMAIL_TIMEOUT": "1"}


def onboarding_sent(count):
    """Return a predicate: count welcome and intake rows are sent."""
    return lambda: OutboxEmail.objects.filter(template__in=["welcome", "intake"], state="sent").count() == count


def delivered_subjects(resend):
    return sorted(message["subject"] for message in resend.delivered())


def timed_post(sender, stripe_event):
    started = time.perf_counter()
    response = sender.post(stripe_event)
    return response, time.perf_counter() - started


@pytest.fixture
def committed_webhook(transactional_db, webhook):
    return webhook


def assert_worker_healthy(output):
    assert "database is locked" not in output
    assert "Traceback" not in output, output[-3000:]
    assert not DBTaskResult.objects.filter(status="FAILED").exists()


# C04: a provider error must not fail the webhook, and the retry sends once


def test_provider_500_then_timeout(committed_webhook, workers, resend):
    # Requests in order: welcome (500), intake, welcome retry (times out), welcome retry.
    resend.faults.extend([SERVER_ERROR, ("ok",), ("slow", 1.5)])

    response, seconds = timed_post(committed_webhook, checkout_event())
    assert response.status_code == 200
    assert seconds < 1.0
    assert DFYOrder.objects.count() == 1

    workers.start(**resend_env(resend, **FAST_RETRIES))
    wait_for(onboarding_sent(2), timeout=30, message="both emails sent")
    output = workers.stop()

    assert delivered_subjects(resend) == [
        "Next step: Tell us about your automation needs",
        "Welcome! Your STARTER order is confirmed",
    ]
    welcome = OutboxEmail.objects.get(template="welcome")
    attempts = list(welcome.attempt_log.all())
    assert [attempt.outcome for attempt in attempts] == [Outcome.RETRY, Outcome.RETRY, Outcome.SENT]
    assert attempts[0].status_code == 500
    assert "ReadTimeout" in attempts[1].error
    assert attempts[1].started_at >= attempts[0].retry_at
    assert attempts[2].started_at >= attempts[1].retry_at

    order = DFYOrder.objects.get()
    retrying = list(order.activities.filter(kind="email.retrying").values_list("message", flat=True))
    assert len(retrying) == 2
    assert "500" in retrying[0]
    assert "ReadTimeout" in retrying[1]
    for activity in DFYActivity.objects.all():
        assert "re_test_double" not in activity.message + str(activity.data)
    assert_worker_healthy(output)


# C05: the provider's rate limit


def test_rate_limit_retry_after(committed_webhook, workers, resend):
    resend.faults.extend([("ok",), *RATE_LIMITED_IN_PLACE_TOO])

    response, seconds = timed_post(committed_webhook, checkout_event())
    assert response.status_code == 200
    assert seconds < 1.0

    workers.start(**resend_env(resend, **FAST_RETRIES))
    wait_for(onboarding_sent(2), timeout=30, message="both emails sent")
    output = workers.stop()

    assert len(resend.delivered()) == 2
    limited = DeliveryAttempt.objects.get(outcome=Outcome.RETRY)
    assert limited.status_code == 429
    retry = DeliveryAttempt.objects.get(object_id=limited.object_id, outcome=Outcome.SENT)
    assert retry.started_at - limited.finished_at >= timedelta(seconds=1)
    assert_worker_healthy(output)


def test_five_orders_within_a_second(committed_webhook, workers, resend):
    workers.start(**resend_env(resend, **FAST_RETRIES))
    resend.faults.extend([("ok",), *RATE_LIMITED_IN_PLACE_TOO])

    responses = [
        timed_post(committed_webhook, checkout_event(session_id=f"cs_test_burst{index}", email=f"burst{index}@example.com"))
        for index in range(5)
    ]

    assert [response.status_code for response, _ in responses] == [200] * 5
    # A request that waited out the provider's retry-after would take 1 s or
    # more; the five together take about 0.2 s on an idle machine.
    assert max(seconds for _, seconds in responses) < 1.0
    wait_for(onboarding_sent(10), timeout=40, message="ten emails sent")
    output = workers.stop()

    delivered = [(message["to"][0], message["subject"]) for message in resend.delivered()]
    assert len(delivered) == 10
    assert len(set(delivered)) == 10
    assert DeliveryAttempt.objects.filter(status_code=429).count() == 1
    assert_worker_healthy(output)


# C14: slow email calls never slow the webhook, and a redelivery meanwhile changes nothing


def test_slow_provider_and_redelivery(gunicorn, stripe_endpoint, workers, resend):
    server = gunicorn(workers=2)
    url = f"{server.base_url}/stripe/webhook/{stripe_endpoint.djstripe_uuid}/"
    resend.faults.extend([("slow", 3), ("slow", 3)])
    stripe_event = checkout_event()
    workers.start(**resend_env(resend, EMAIL_TIMEOUT="10"))

    started = time.perf_counter()
    first_status, _ = sample_events.deliver(url, stripe_event, WEBHOOK_SECRET)
    first_seconds = time.perf_counter() - started
    wait_for(lambda: OutboxEmail.objects.filter(state="sending").exists(), timeout=20, message="a send in progress")
    started = time.perf_counter()
    second_status, _ = sample_events.deliver(url, stripe_event, WEBHOOK_SECRET)
    second_seconds = time.perf_counter() - started
    still_sending = OutboxEmail.objects.filter(state="sending").exists()

    assert (first_status, second_status) == (200, 200)
    # Milliseconds on an idle machine; the bound stays below one slow call so
    # that a loaded machine does not fail the case.
    assert first_seconds < 2.0
    assert second_seconds < 2.0
    assert still_sending
    wait_for(onboarding_sent(2), timeout=30, message="both emails sent")
    output = workers.stop()

    assert DFYOrder.objects.count() == 1
    assert delivered_subjects(resend) == [
        "Next step: Tell us about your automation needs",
        "Welcome! Your STARTER order is confirmed",
    ]
    assert DeliveryAttempt.objects.filter(outcome=Outcome.SENT).count() == 2
    assert_worker_healthy(output)


# The worker under load: concurrent webhooks while it sends (SQLite locking)


def test_worker_alongside_concurrent_webhooks(gunicorn, stripe_endpoint, workers, resend):
    server = gunicorn(workers=2)
    url = f"{server.base_url}/stripe/webhook/{stripe_endpoint.djstripe_uuid}/"
    workers.start(**resend_env(resend))
    statuses = []

    def send_batch(batch):
        for index in range(4):
            event = checkout_event(session_id=f"cs_test_load{batch}_{index}", email=f"load{batch}.{index}@example.com")
            statuses.append(sample_events.deliver(url, event, WEBHOOK_SECRET)[0])

    threads = [threading.Thread(target=send_batch, args=(batch,)) for batch in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * 12
    wait_for(onboarding_sent(24), timeout=60, message="24 emails sent")
    output = workers.stop()
    assert len(resend.delivered()) == 24
    assert_worker_healthy(output)


# Two workers share one queue: no task runs twice, no message is sent twice


def queue_messages(count):
    """Write count queued emails for count paid orders, with one deliver_items task per email."""
    orders = DFYOrder.objects.bulk_create(
        DFYOrder(
            stripe_checkout_session_id=f"cs_test_bulk{index}", status="new",
            customer_email=f"bulk{index}@example.com", amount_total=9900, currency="gbp", tier="STARTER",
        )
        for index in range(count)
    )
    if connection.vendor == "sqlite":
        orders = list(DFYOrder.objects.filter(stripe_checkout_session_id__startswith="cs_test_bulk"))
    with transaction.atomic():
        for order in orders:
            email = OutboxEmail.objects.create(
                order=order, template="welcome", to_email=order.customer_email, subject=f"Welcome {order.pk}"
            )
            deliver_items.enqueue([["email", email.pk]])


def test_two_workers_send_200_messages_once(workers, resend, stripe_api):
    env = resend_env(resend)
    workers.start(**env)
    workers.start(**env)
    time.sleep(2)  # both workers are polling before the queue fills

    queue_messages(200)
    wait_for(lambda: OutboxEmail.objects.filter(state="sent").count() == 200, timeout=90, message="200 sent")
    wait_for(lambda: not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists(), timeout=30)
    output = workers.stop()

    requests = resend.sent()
    assert len(requests) == 200
    assert len({request["to"][0] for request in requests}) == 200
    tasks = list(DBTaskResult.objects.all())
    assert len(tasks) == 200
    assert {task.status for task in tasks} == {"SUCCESSFUL"}
    # A task run twice would have a second worker id and, on its second run,
    # would find its email sent and return delivered 0.
    assert all(len(task.worker_ids) == 1 for task in tasks)
    assert all(task.return_value == {"delivered": 1, "skipped": 0} for task in tasks)
    assert len({task.worker_ids[0] for task in tasks}) == 2
    assert DeliveryAttempt.objects.count() == 200
    assert_worker_healthy(output)


def test_worker_killed_mid_send(committed_webhook, workers, resend, admin_client, settings):
    settings.STRIPE_MIRROR_SYNC = False
    # The Resend double delays the welcome request by 5 s and then accepts it,
    # so the message is out but its worker dies before recording it.
    resend.faults.append(("slow", 5))
    committed_webhook.post(checkout_event())
    doomed = workers.start(**resend_env(resend))
    welcome = wait_for(
        lambda: OutboxEmail.objects.filter(template="welcome", state="sending").first(), message="the welcome claim"
    )
    wait_for(lambda: resend.faults == [], message="the welcome request to reach Resend")

    doomed.kill()
    doomed.wait(timeout=10)
    assert OutboxEmail.objects.get(pk=welcome.pk).state == "sending"
    assert DBTaskResult.objects.filter(status="RUNNING").count() == 1

    workers.start(**resend_env(resend))
    workers.start("--interval", "0.3", command="outbox_sweeper", OUTBOX_STALE_SECONDS="1", OUTBOX_SWEEP_GRACE_SECONDS="0")
    wait_for(onboarding_sent(2), timeout=60, message="both emails after the kill")

    assert resend.sent_per_address() == {"customer@example.com": 2}
    assert delivered_subjects(resend) == ["Next step: Tell us about your automation needs", "Welcome! Your STARTER order is confirmed"]
    welcome.refresh_from_db()
    assert welcome.attempts == 2
    attempts = list(welcome.attempt_log.order_by("number").values_list("outcome", "worker"))
    assert [outcome for outcome, _ in attempts] == [Outcome.INTERRUPTED, Outcome.SENT]
    assert attempts[0][1].endswith(f":{doomed.pid}")
    order_page = admin_client.get(f"/admin/orders/dfyorder/{welcome.order_id}/change/").content.decode()
    assert f":{doomed.pid} stopped while sending attempt 1" in order_page
