"""Staff status changes through change_status(): the table, the requirements, and what each move starts."""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from onboarding.models import OutboxEmail
from onboarding.resend import ResendRejected, resend_emails
from orders import transitions
from orders.intake import TransitionNotAllowed
from orders.models import DFYOrder, Plan
from orders.signals import order_paid
from orders.transitions import RequirementMissing, change_status
from tests.conftest import checkout_event
from tests.staff import make_staff

pytestmark = pytest.mark.django_db

Status = DFYOrder.Status
State = OutboxEmail.State


@pytest.fixture
def staff(db):
    return make_staff("olivia")


@pytest.fixture
def order(webhook):
    webhook.post(checkout_event())
    return DFYOrder.objects.get()


@pytest.fixture
def review_order(webhook):
    webhook.post(checkout_event(metadata={}))
    return DFYOrder.objects.get()


def emails(order, templates=("welcome", "intake", "handover")):
    return dict(OutboxEmail.objects.filter(order=order, template__in=templates).values_list("template", "state"))


def test_table_lists_only_known_statuses():
    for source, targets in transitions.ALLOWED.items():
        assert source in Status.values
        assert set(targets) <= set(Status.values)
        assert source not in targets


def test_payment_statuses_allow_no_staff_move():
    for status in (Status.AWAITING_PAYMENT, Status.PAYMENT_FAILED):
        assert transitions.allowed_targets(status) == ()


@pytest.mark.parametrize(
    "source, target",
    [
        (Status.NEW, Status.DELIVERED),
        (Status.NEW, Status.NEEDS_REVIEW),
        (Status.INTAKE_RECEIVED, Status.NEW),
        (Status.PAYMENT_FAILED, Status.NEW),
        (Status.AWAITING_PAYMENT, Status.IN_PROGRESS),
        (Status.DELIVERED, Status.NEW),
    ],
)
def test_unlisted_move_is_rejected(order, staff, source, target):
    DFYOrder.objects.filter(pk=order.pk).update(status=source, final_package_link="https://files.example/p")

    with pytest.raises(TransitionNotAllowed):
        change_status(order, target, staff)

    assert DFYOrder.objects.get(pk=order.pk).status == source
    assert not order.activities.filter(kind="order.status_changed").exists()


def test_move_records_actor_and_note(order, staff):
    change_status(order, Status.IN_PROGRESS, staff, note="Started on the Sheets step.")

    order.refresh_from_db()
    assert order.status == Status.IN_PROGRESS
    activity = order.activities.get(kind="order.status_changed")
    assert activity.actor == staff
    assert activity.data == {"from": "new", "to": "in_progress", "note": "Started on the Sheets step."}
    assert "olivia changed the status from New to In progress." in activity.message
    assert "Started on the Sheets step." in activity.message


def test_move_checks_the_committed_status(order, staff):
    stale = DFYOrder.objects.get(pk=order.pk)
    change_status(order, Status.IN_PROGRESS, staff)

    # The stale copy still has status "new", but in_progress cannot move to in_progress.
    with pytest.raises(TransitionNotAllowed):
        change_status(stale, Status.IN_PROGRESS, staff)
    assert order.activities.filter(kind="order.status_changed").count() == 1


def test_staff_marks_intake_received(order, staff):
    change_status(order, Status.INTAKE_RECEIVED, staff, note="Answers came by email.")

    order.refresh_from_db()
    assert order.status == Status.INTAKE_RECEIVED
    assert order.intake_state == DFYOrder.IntakeState.RECEIVED
    assert order.intake_received_at is not None


def test_review_needs_a_plan(review_order, staff):
    with pytest.raises(RequirementMissing, match="choose a catalogue plan"):
        change_status(review_order, Status.NEW, staff)

    assert DFYOrder.objects.get(pk=review_order.pk).status == Status.NEEDS_REVIEW
    assert emails(review_order) == {}


def test_resolved_review_starts_onboarding_once(review_order, staff):
    plan = Plan.objects.get(tier="PROFESSIONAL")
    DFYOrder.objects.filter(pk=review_order.pk).update(catalogue_plan=plan)
    sent = []
    order_paid.connect(lambda sender, order, **kwargs: sent.append(order.pk), weak=False, dispatch_uid="test-paid")
    try:
        change_status(review_order, Status.NEW, staff, note="Payment Link without metadata.")
        with pytest.raises(TransitionNotAllowed):
            change_status(review_order, Status.NEW, staff)
    finally:
        order_paid.disconnect(dispatch_uid="test-paid")

    order = DFYOrder.objects.get(pk=review_order.pk)
    assert sent == [order.pk]
    assert order.status == Status.NEW
    assert order.tier == "PROFESSIONAL"
    assert order.revisions_left == 2
    assert order.deadline is not None
    assert order.intake_state == DFYOrder.IntakeState.REQUESTED
    assert order.review_reason == ""
    assert emails(order) == {"welcome": State.QUEUED, "intake": State.QUEUED}
    paid = order.activities.get(kind="order.paid")
    assert paid.actor == staff
    deliver_tasks = DBTaskResult.objects.filter(task_path="onboarding.tasks.deliver_order", args_kwargs__args=[order.pk])
    assert deliver_tasks.count() == 1


def test_review_keeps_a_deadline_set_by_staff(review_order, staff):
    agreed = timezone.now() + timedelta(days=10)
    DFYOrder.objects.filter(pk=review_order.pk).update(catalogue_plan=Plan.objects.get(tier="STARTER"), deadline=agreed)

    change_status(review_order, Status.NEW, staff)

    order = DFYOrder.objects.get(pk=review_order.pk)
    assert order.deadline == agreed
    assert order.revisions_left == 1


def test_delivered_needs_a_package_link(order, staff):
    change_status(order, Status.IN_PROGRESS, staff)

    with pytest.raises(RequirementMissing, match="final package link"):
        change_status(order, Status.DELIVERED, staff)

    assert DFYOrder.objects.get(pk=order.pk).status == Status.IN_PROGRESS
    assert "handover" not in emails(order)


def test_delivered_queues_the_handover(order, staff):
    DFYOrder.objects.filter(pk=order.pk).update(
        status=Status.IN_PROGRESS, final_package_link="https://files.example/package.zip"
    )

    change_status(order, Status.DELIVERED, staff)

    handover = OutboxEmail.objects.get(order=order, template="handover")
    assert handover.state == State.QUEUED
    assert handover.subject == f"Your automation for {order.reference} is ready"
    assert handover.to_email == "customer@example.com"
    request = order.activities.get(kind="email.resend_requested")
    assert request.actor == staff
    assert request.data["queued"] == ["handover"]
    assert request.data["reason"] == "The order was marked delivered."


def test_second_delivery_sends_the_handover_again(order, staff, resend_backend):
    DFYOrder.objects.filter(pk=order.pk).update(
        status=Status.IN_PROGRESS, final_package_link="https://files.example/v1.zip"
    )
    change_status(order, Status.DELIVERED, staff)
    handover = OutboxEmail.objects.get(order=order, template="handover")
    from onboarding.delivery import deliver

    assert deliver("email", handover.pk) is True
    first_key = OutboxEmail.objects.get(pk=handover.pk).idempotency_key

    change_status(order, Status.IN_PROGRESS, staff, note="Customer asked for a revision.")
    DFYOrder.objects.filter(pk=order.pk).update(final_package_link="https://files.example/v2.zip")
    change_status(order, Status.DELIVERED, staff)
    assert deliver("email", handover.pk) is True

    handover = OutboxEmail.objects.get(pk=handover.pk)
    assert handover.state == State.SENT
    assert handover.idempotency_key != first_key
    bodies = [message["text"] for message in resend_backend.delivered() if message["subject"].endswith("is ready")]
    assert len(bodies) == 2
    assert "https://files.example/v1.zip" in bodies[0]
    assert "https://files.example/v2.zip" in bodies[1]
    assert OutboxEmail.objects.filter(order=order, template="handover").count() == 1


def test_delivered_without_email_keeps_the_delivery(review_order, staff):
    plan = Plan.objects.get(tier="STARTER")
    DFYOrder.objects.filter(pk=review_order.pk).update(
        status=Status.IN_PROGRESS, customer_email="", catalogue_plan=plan,
        final_package_link="https://files.example/p.zip",
    )

    change_status(review_order, Status.DELIVERED, staff)

    assert DFYOrder.objects.get(pk=review_order.pk).status == Status.DELIVERED
    assert not OutboxEmail.objects.filter(order=review_order, template="handover").exists()
    assert "no customer email" in review_order.activities.get(kind="email.not_queued").message


def test_resend_is_once_per_request_token(order, staff, resend_backend):
    from onboarding.tasks import deliver_order

    deliver_order.call(order.pk)
    assert emails(order) == {"welcome": State.SENT, "intake": State.SENT}

    first = resend_emails(order, ["welcome", "intake"], actor=staff, reason="Lost in spam.", request_token="t1")
    repeat = resend_emails(order, ["welcome", "intake"], actor=staff, reason="Lost in spam.", request_token="t1")

    assert sorted(first.requeued) == ["intake", "welcome"]
    assert repeat.duplicate_request is True
    assert repeat.sent_templates == []
    assert emails(order) == {"welcome": State.QUEUED, "intake": State.QUEUED}
    assert order.activities.filter(kind="email.resend_requested").count() == 1
    welcome = OutboxEmail.objects.get(order=order, template="welcome")
    assert welcome.attempts == 0
    assert welcome.provider_message_id == ""


def test_resend_leaves_waiting_rows_alone(order, staff):
    result = resend_emails(order, ["welcome", "intake"], actor=staff, reason="Customer asked.", request_token="t2")

    assert result.requeued == []
    assert sorted(result.pending) == ["intake", "welcome"]
    assert OutboxEmail.objects.filter(order=order).aggregate(attempts=Count("attempt_log"))["attempts"] == 0
    activity = order.activities.get(kind="email.resend_requested")
    assert "already waiting to be sent" in activity.message


def test_resend_rejects_unpaid_order(review_order, staff):
    with pytest.raises(ResendRejected, match="needs review"):
        resend_emails(review_order, ["welcome"], actor=staff, reason="x")

    assert emails(review_order) == {}
