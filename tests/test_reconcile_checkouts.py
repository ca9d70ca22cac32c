"""manage.py reconcile_checkouts against the loopback Stripe double, and its periodic task."""

import io
import json
import time
from datetime import timedelta

import pytest
import stripe
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from onboarding.models import OutboxEmail
from orders import sample_events
from orders import stripe_api as adapter
from orders.models import DFYActivity, DFYOrder, UnmatchedStripeEvent
from orders.tasks import reconcile_checkouts_periodically
from tests.conftest import checkout_event, child_env, free_port, manage

NOW = int(time.time())
DAY = 86400
SESSIONS_PATH = "/v1/checkout/sessions"
EVENTS_PATH = "/v1/events"
TASK_PATH = "orders.tasks.reconcile_checkouts_periodically"


def paid_session(session_id, created=None, **fields):
    return sample_events.checkout_session(
        session_id, payment_intent=f"pi_{session_id}", created=NOW - 3600 if created is None else created, **fields
    )


def reconcile(*args):
    output = io.StringIO()
    call_command("reconcile_checkouts", *args, stdout=output)
    return output.getvalue()


def snapshot():
    """Everything a run could change: orders with status, activity rows and queued emails."""
    return (
        sorted(DFYOrder.objects.values_list("stripe_checkout_session_id", "status")),
        DFYActivity.objects.count(),
        OutboxEmail.objects.count(),
    )


# The double's list filters and pages, through orders.stripe_api


def test_double_filters_sessions(stripe_api):
    stripe_api.add(paid_session("cs_test_recent", created=NOW - DAY))
    stripe_api.add(paid_session("cs_test_old", created=NOW - 10 * DAY))
    open_session = stripe_api.add(paid_session("cs_test_open", created=NOW - DAY))
    open_session["status"] = "open"

    since = timezone.now() - timedelta(days=3)

    sessions = adapter.list_checkout_sessions(since, status="complete")

    assert [session["id"] for session in sessions] == ["cs_test_recent"]
    query = stripe_api.list_requests(SESSIONS_PATH)[0].args
    assert query["status"] == "complete"
    assert query["limit"] == "100"
    assert query["created[gte]"] == str(int(since.timestamp()))


def test_double_filters_undelivered_events(stripe_api):
    session = paid_session("cs_test_evt")
    stripe_api.add_event(sample_events.event("checkout.session.completed", session, event_id="evt_lost"), delivered=False)
    stripe_api.add_event(sample_events.event("checkout.session.completed", session, event_id="evt_delivered"))
    stripe_api.add_event(sample_events.event("checkout.session.expired", session, event_id="evt_expired"), delivered=False)
    stripe_api.add_event(
        sample_events.event("checkout.session.completed", session, event_id="evt_old", created=NOW - 40 * DAY),
        delivered=False,
    )

    events = adapter.list_undelivered_events(
        ["checkout.session.completed", "checkout.session.async_payment_failed"], timezone.now() - timedelta(days=30)
    )

    assert [event["id"] for event in events] == ["evt_lost"]
    query = stripe_api.list_requests(EVENTS_PATH)[0].args
    assert query["delivery_success"] == "false"
    assert query.getlist("types[0]") == ["checkout.session.completed"]


def test_double_rejects_unknown_list_parameter(stripe_api):
    with pytest.raises(adapter.StripeRejected, match="Received unknown parameter: colour"):
        adapter.list_all(stripe.checkout.Session.list, colour="blue")


# Reconciliation


@pytest.mark.django_db
def test_session_without_webhook_is_fulfilled(webhook, stripe_api):
    webhook.post(checkout_event("checkout.session.completed", session_id="cs_test_delivered", payment_intent="pi_delivered"))
    stripe_api.add(paid_session("cs_test_delivered"))
    stripe_api.add(paid_session("cs_test_lost"))
    stripe_api.add(paid_session("cs_test_unpaid", payment_status="unpaid"))
    stripe_api.add(paid_session("cs_test_too_old", created=NOW - 5 * DAY))

    output = reconcile("--since", "3d")

    order = DFYOrder.objects.get(stripe_checkout_session_id="cs_test_lost")
    assert order.status == DFYOrder.Status.NEW
    assert order.stripe_payment_intent_id == "pi_cs_test_lost"
    assert sorted(order.emails.values_list("template", flat=True)) == ["intake", "welcome"]
    assert "order.reconciled" in order.activities.values_list("kind", flat=True)
    assert order.activities.get(kind="order.created").message.startswith("Order created from reconcile_checkouts")
    assert not DFYOrder.objects.filter(stripe_checkout_session_id__in=["cs_test_unpaid", "cs_test_too_old"]).exists()
    assert f"Created order {order.reference} (new) for session cs_test_lost" in output
    assert "cs_test_delivered" not in output
    assert "3 completed sessions and 0 undelivered events" in output
    assert "1 orders created, 0 updated, 1 already fulfilled, 1 not paid yet" in output


@pytest.mark.django_db
def test_second_run_changes_nothing(webhook, stripe_api):
    webhook.post(checkout_event(payment_status="unpaid", session_id="cs_test_waiting", payment_intent="pi_waiting"))
    stripe_api.add(paid_session("cs_test_lost"))
    stripe_api.add_event(
        sample_events.event(
            "checkout.session.async_payment_succeeded", paid_session("cs_test_waiting"), event_id="evt_cleared"
        ),
        delivered=False,
    )

    reconcile()
    first = snapshot()
    second_output = reconcile("--json")

    assert snapshot() == first
    report = json.loads(second_output)
    assert report["orders_created"] == 0
    assert report["orders_updated"] == 0
    assert report["already_fulfilled"] == 2
    waiting = DFYOrder.objects.get(stripe_checkout_session_id="cs_test_waiting")
    assert waiting.status == DFYOrder.Status.NEW
    assert waiting.activities.filter(kind="order.paid").get().stripe_event_id == "evt_cleared"


@pytest.mark.django_db
def test_sessions_are_paged(catalogue, stripe_api):
    for number in range(101):
        stripe_api.add(paid_session(f"cs_test_page{number:03d}", created=NOW - 600 - number))

    report = json.loads(reconcile("--json"))

    assert report["sessions_checked"] == 101
    assert report["orders_created"] == 101
    assert DFYOrder.objects.count() == 101
    pages = stripe_api.list_requests(SESSIONS_PATH)
    assert len(pages) == 2
    assert "starting_after" not in pages[0].args
    assert pages[1].args["starting_after"] == "cs_test_page099"


@pytest.mark.django_db
def test_undelivered_failed_payment_is_applied(webhook, stripe_api):
    webhook.post(checkout_event(payment_status="unpaid"))
    failed = sample_events.event(
        "checkout.session.async_payment_failed", paid_session("cs_test_A", payment_status="unpaid"), event_id="evt_failed"
    )
    stripe_api.add_event(failed, delivered=False)

    output = reconcile("--verbosity", "2")

    order = DFYOrder.objects.get()
    assert order.status == DFYOrder.Status.PAYMENT_FAILED
    assert order.activities.get(kind="order.reconciled").stripe_event_id == "evt_failed"
    assert f"Updated order {order.reference} (payment_failed) for session cs_test_A from evt_failed." in output


@pytest.mark.django_db
def test_processed_event_is_not_applied_again(webhook, stripe_api):
    stripe_event = checkout_event(event_id="evt_slow_ack")
    webhook.post(stripe_event)
    stripe_api.add_event(stripe_event, delivered=False)
    history = snapshot()

    report = json.loads(reconcile("--json"))

    assert snapshot() == history
    assert report["items"][0]["detail"] == "the webhook was processed"


@pytest.mark.django_db
def test_lost_session_picks_up_its_refund(webhook, stripe_api):
    webhook.post(sample_events.event("charge.refunded", sample_events.charge(payment_intent="pi_cs_test_lost", amount_refunded=9900)))
    stripe_api.add(paid_session("cs_test_lost"))

    report = json.loads(reconcile("--json"))

    order = DFYOrder.objects.get()
    assert order.status == DFYOrder.Status.REFUNDED
    assert UnmatchedStripeEvent.objects.get().order == order
    assert report["items"][0]["status"] == "refunded"


@pytest.mark.django_db
def test_run_applies_waiting_unmatched_events(webhook, stripe_api):
    # An event stored as unmatched while its order was being created in
    # another transaction: nothing else will apply it.
    webhook.post(checkout_event())
    subscription = sample_events.subscription("sub_race", customer="cus_race")
    UnmatchedStripeEvent.objects.create(
        stripe_event_id="evt_race",
        event_type="customer.subscription.updated",
        event_created=timezone.now(),
        stripe_object_id="sub_race",
        subscription_id="sub_race",
        customer_id="cus_race",
        reason="no order has subscription sub_race, customer cus_race",
        stripe_object=subscription,
    )
    DFYOrder.objects.update(stripe_subscription_id="sub_race")

    report = json.loads(reconcile("--json"))

    assert report["unmatched_events_applied"] == 1
    assert DFYOrder.objects.get().subscription_status == "active"
    assert json.loads(reconcile("--json"))["unmatched_events_applied"] == 0


@pytest.mark.django_db
def test_quiet_run_prints_nothing(catalogue, stripe_api):
    stripe_api.add(paid_session("cs_test_lost"))

    output = reconcile("--verbosity", "0")

    assert output == ""
    assert DFYOrder.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "since, message",
    [
        ("31d", "beyond Stripe's 30-day event window"),
        ("3 weeks", "Invalid --since value '3 weeks'"),
        ("0h", "must be longer than zero"),
    ],
)
def test_invalid_since_is_rejected(stripe_api, since, message):
    with pytest.raises(CommandError, match=message):
        reconcile("--since", since)

    assert stripe_api.requests() == []


@pytest.mark.django_db
def test_stripe_outage_changes_nothing(catalogue, stripe_api):
    stripe_api.add(paid_session("cs_test_lost"))
    stripe_api.add_event(sample_events.event("checkout.session.completed", paid_session("cs_test_lost")), delivered=False)
    # The events list succeeds; the sessions list then fails on every retry.
    stripe_api.faults.extend([("slow", 0)] + [(503, {"error": {"type": "api_error", "message": "down"}})] * 4)

    with pytest.raises(CommandError, match="Nothing was changed"):
        reconcile()

    assert DFYOrder.objects.count() == 0


def test_unreachable_stripe_exits_non_zero(transactional_db):
    env = child_env(STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}")

    result = manage("reconcile_checkouts", "--since", "1d", env=env)

    assert result.returncode == 1
    assert "Could not list Checkout Sessions and events from Stripe" in result.stderr


# The periodic task


@pytest.mark.django_db
def test_periodic_task_runs_and_requeues(catalogue, stripe_api):
    stripe_api.add(paid_session("cs_test_lost"))

    summary = reconcile_checkouts_periodically.call(3 * DAY, 3600)
    reconcile_checkouts_periodically.call(3 * DAY, 3600)

    assert summary["orders_created"] == 1
    assert DFYOrder.objects.count() == 1
    waiting = DBTaskResult.objects.get(task_path=TASK_PATH, status=TaskResultStatus.READY)
    assert waiting.args_kwargs == {"args": [3 * DAY, 3600], "kwargs": {}}
    expected = timezone.now() + timedelta(hours=1)
    assert abs((waiting.run_after - expected).total_seconds()) < 60


@pytest.mark.django_db
def test_periodic_task_requeues_after_outage(catalogue, stripe_api):
    stripe_api.faults.extend([(503, {"error": {"type": "api_error", "message": "down"}})] * 4)

    with pytest.raises(adapter.StripeUnavailable):
        reconcile_checkouts_periodically.call(DAY, 600)

    assert DBTaskResult.objects.filter(task_path=TASK_PATH, status=TaskResultStatus.READY).count() == 1


@pytest.mark.django_db
def test_schedule_option_queues_once_per_setting(stripe_api):
    first = reconcile("--schedule", "--every", "30m", "--since", "2d")
    second = reconcile("--schedule")

    assert "Queued periodic reconciliation task" in first
    assert "Queued periodic reconciliation task" in second
    assert DBTaskResult.objects.get(task_path=TASK_PATH).args_kwargs["args"] == [3 * DAY, 3600]

    third = reconcile("--schedule")

    assert "already queued" in third
    assert DBTaskResult.objects.filter(task_path=TASK_PATH).count() == 1
    assert stripe_api.requests() == []


def test_worker_runs_scheduled_reconciliation(stripe_endpoint, stripe_api, run_worker):
    stripe_api.add(paid_session("cs_test_lost"))
    reconcile("--schedule", "--every", "1h")

    run_worker()

    assert DFYOrder.objects.get().status == DFYOrder.Status.NEW
    results = DBTaskResult.objects.filter(task_path=TASK_PATH)
    assert sorted(results.values_list("status", flat=True)) == [TaskResultStatus.READY, TaskResultStatus.SUCCESSFUL]
    assert results.get(status=TaskResultStatus.READY).run_after > timezone.now() + timedelta(minutes=50)


@pytest.mark.django_db
def test_verbose_run_lists_every_session(webhook, stripe_api):
    webhook.post(checkout_event(session_id="cs_test_delivered", payment_intent="pi_delivered"))
    stripe_api.add(paid_session("cs_test_delivered"))
    stripe_api.add(paid_session("cs_test_unpaid", payment_status="unpaid"))

    output = reconcile("--verbosity", "2")

    order = DFYOrder.objects.get()
    assert f"cs_test_delivered: already fulfilled by {order.reference} (new)." in output
    assert "cs_test_unpaid: not paid." in output
