"""Signed checkout.session.* deliveries through Django's full request stack."""

import pytest
from djstripe.models import Event, WebhookEventTrigger

from onboarding.models import OutboxEmail
from orders import sample_events
from orders.models import DFYActivity, DFYOrder
from tests.conftest import LEGACY_WEBHOOK_PATH, checkout_event
from tests.faults import FAULT_MESSAGE, failing_inserts

pytestmark = pytest.mark.django_db

COMPLETED = "checkout.session.completed"
SUCCEEDED = "checkout.session.async_payment_succeeded"
FAILED = "checkout.session.async_payment_failed"


def order_for(session_id="cs_test_A"):
    return DFYOrder.objects.get(stripe_checkout_session_id=session_id)


def kinds(order):
    return list(order.activities.values_list("kind", flat=True))


def email_templates(order):
    return sorted(order.emails.values_list("template", flat=True))


def test_paid_session_creates_new_order(webhook, stripe_api):
    response = webhook.post(checkout_event())

    assert response.status_code == 200
    order = order_for()
    assert order.status == DFYOrder.Status.NEW
    assert order.tier == "STARTER"
    assert order.amount_total == 9900
    assert order.currency == "gbp"
    assert order.customer_email == "customer@example.com"
    assert order.customer_name == "Jane Doe"
    assert order.payment_status == "paid"
    assert order.revisions_left == 1
    assert order.deadline is not None
    assert kinds(order) == ["order.created", "order.paid", "email.queued", "alert.not_configured"]
    assert email_templates(order) == ["intake", "welcome"]
    assert stripe_api.requests() == []


def test_welcome_subject_names_the_tier(webhook):
    webhook.post(checkout_event())

    subjects = dict(order_for().emails.values_list("template", "subject"))
    assert subjects["welcome"] == "Welcome! Your STARTER order is confirmed"
    assert subjects["intake"] == "Next step: Tell us about your automation needs"


def test_legacy_url_processes_the_same_way(webhook):
    response = webhook.post(checkout_event(), path=LEGACY_WEBHOOK_PATH)

    assert response.status_code == 200
    assert order_for().status == DFYOrder.Status.NEW


def test_subscription_growth_yearly_tier(webhook):
    session = dict(
        session_id="cs_test_growth",
        metadata={"mode": "subscription", "plan": "growth", "term": "yearly"},
        amount_total=79000,
        stripe_mode="subscription",
        customer="cus_growth",
        subscription="sub_growth",
    )
    webhook.post(checkout_event(**session))

    order = order_for("cs_test_growth")
    assert order.status == DFYOrder.Status.NEW
    assert order.tier == "GROWTH_YEARLY"
    assert order.stripe_subscription_id == "sub_growth"
    assert order.stripe_customer_id == "cus_growth"
    assert order.deadline is None


def test_zero_decimal_currency_is_not_divided(webhook):
    webhook.post(checkout_event(amount_total=50000, currency="jpy"))

    order = order_for()
    assert order.amount_total == 50000
    assert order.amount_display == "¥50,000"
    assert order.status == DFYOrder.Status.NEEDS_REVIEW
    assert "currency JPY" in order.review_reason


def test_amount_below_catalogue_price_needs_review(webhook):
    webhook.post(checkout_event(amount_total=100))

    order = order_for()
    assert order.status == DFYOrder.Status.NEEDS_REVIEW
    assert "amount £1.00 differs from the plan price £99.00" in order.review_reason
    assert email_templates(order) == []


# C01: the same event delivered twice, and two events for one session


def test_duplicate_delivery_makes_one_order(webhook):
    stripe_event = checkout_event()

    first = webhook.post(stripe_event)
    second = webhook.post(stripe_event)

    assert first.status_code == 200
    assert second.status_code == 200
    assert DFYOrder.objects.count() == 1
    assert Event.objects.filter(id=stripe_event["id"]).count() == 1
    assert WebhookEventTrigger.objects.count() == 2
    assert email_templates(order_for()) == ["intake", "welcome"]


def test_two_event_ids_for_one_session(webhook):
    first = webhook.post(checkout_event(event_id="evt_first"))
    second = webhook.post(checkout_event(event_id="evt_second"))

    assert first.status_code == 200
    assert second.status_code == 200
    order = order_for()
    assert DFYOrder.objects.count() == 1
    assert OutboxEmail.objects.filter(order=order).count() == 2
    assert kinds(order)[-1] == "stripe.event_ignored"
    assert order.activities.get(kind="stripe.event_ignored").stripe_event_id == "evt_second"


# C02: a handler failure must leave Stripe's retry something to process


def test_failed_order_write_is_retried(webhook):
    stripe_event = checkout_event()

    with failing_inserts("orders_dfyorder"):
        failed = webhook.post(stripe_event)

    assert failed.status_code == 500
    assert DFYOrder.objects.count() == 0
    assert not Event.objects.filter(id=stripe_event["id"]).exists()
    trigger = WebhookEventTrigger.objects.get()
    assert FAULT_MESSAGE in trigger.exception
    assert trigger.processed is False

    retried = webhook.post(stripe_event)

    assert retried.status_code == 200
    assert order_for().status == DFYOrder.Status.NEW
    assert email_templates(order_for()) == ["intake", "welcome"]
    assert Event.objects.filter(id=stripe_event["id"]).count() == 1


# C06: delayed payment methods


def test_unpaid_then_paid_session(webhook):
    webhook.post(checkout_event(payment_status="unpaid"))

    order = order_for()
    assert order.status == DFYOrder.Status.AWAITING_PAYMENT
    assert email_templates(order) == []

    response = webhook.post(checkout_event(SUCCEEDED))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == DFYOrder.Status.NEW
    assert order.payment_status == "paid"
    assert DFYOrder.objects.count() == 1
    assert email_templates(order) == ["intake", "welcome"]


def test_unpaid_then_failed_session(webhook):
    webhook.post(checkout_event(payment_status="unpaid"))
    response = webhook.post(checkout_event(FAILED, payment_status="unpaid"))

    assert response.status_code == 200
    order = order_for()
    assert order.status == DFYOrder.Status.PAYMENT_FAILED
    assert email_templates(order) == []
    assert "payment.failed" in kinds(order)


# C07: events out of order


def test_late_unpaid_completion_changes_nothing(webhook):
    webhook.post(checkout_event(SUCCEEDED))
    late = checkout_event(payment_status="unpaid")

    first = webhook.post(late)
    repeated = webhook.post(late)

    assert first.status_code == 200
    assert repeated.status_code == 200
    order = order_for()
    assert order.status == DFYOrder.Status.NEW
    assert order.payment_status == "paid"
    assert DFYOrder.objects.count() == 1
    assert OutboxEmail.objects.filter(order=order).count() == 2


def test_failure_after_success_changes_nothing(webhook):
    webhook.post(checkout_event(SUCCEEDED))
    webhook.post(checkout_event(FAILED, payment_status="unpaid"))

    order = order_for()
    assert order.status == DFYOrder.Status.NEW
    assert kinds(order)[-1] == "stripe.event_ignored"


# C08: metadata that matches no plan


@pytest.mark.parametrize(
    "metadata",
    [{}, {"plan": "unknown-plan", "mode": "x"}],
    ids=["empty", "unknown-plan"],
)
def test_unclassified_session_needs_review(webhook, admin_client, metadata):
    response = webhook.post(checkout_event(metadata=metadata))

    assert response.status_code == 200
    order = order_for()
    assert order.status == DFYOrder.Status.NEEDS_REVIEW
    assert order.tier == ""
    assert email_templates(order) == []
    review = order.activities.get(kind="order.needs_review")
    assert review.data["metadata"] == metadata
    assert review.data["problems"]

    listing = admin_client.get("/admin/orders/dfyorder/", {"status__exact": "needs_review"}, HTTP_HOST="127.0.0.1")
    assert listing.status_code == 200
    assert order.customer_email in listing.content.decode()


# C13: the buyer's final address is customer_details.email


def test_email_from_details_when_prefill_missing(webhook):
    webhook.post(checkout_event(customer_email=None, email="buyer@example.com"))

    assert order_for().customer_email == "buyer@example.com"


def test_email_from_details_over_prefill(webhook):
    webhook.post(checkout_event(customer_email="prefilled@example.com", email="final@example.com"))

    order = order_for()
    assert order.customer_email == "final@example.com"
    assert set(order.emails.values_list("to_email", flat=True)) == {"final@example.com"}


def test_missing_email_needs_review_without_sending(webhook):
    response = webhook.post(checkout_event(customer_email=None, email=None))

    assert response.status_code == 200
    order = order_for()
    assert order.status == DFYOrder.Status.NEEDS_REVIEW
    assert "no customer email" in order.review_reason
    assert OutboxEmail.objects.count() == 0


# C15: customer.deleted


def customer_deleted_event(customer_id):
    customer = sample_events.fixture("customer")
    customer.update(id=customer_id, deleted=True)
    return sample_events.event("customer.deleted", customer)


def test_customer_deleted_keeps_order(webhook, stripe_api):
    webhook.post(checkout_event(customer="cus_known"))
    history_before = DFYActivity.objects.count()

    known = webhook.post(customer_deleted_event("cus_known"))
    unknown = webhook.post(customer_deleted_event("cus_unknown"))

    assert known.status_code == 200
    assert unknown.status_code == 200
    order = order_for()
    assert order.status == DFYOrder.Status.NEW
    assert order.stripe_customer_id == "cus_known"
    assert DFYActivity.objects.count() == history_before + 1
    assert kinds(order)[-1] == "stripe.customer_deleted"
    assert stripe_api.requests() == []


# The webhook request makes no outbound call


@pytest.mark.parametrize("event_type", [COMPLETED, SUCCEEDED, FAILED])
def test_checkout_events_make_no_stripe_call(webhook, stripe_api, event_type):
    response = webhook.post(checkout_event(event_type, customer="cus_x", payment_status="unpaid"))

    assert response.status_code == 200
    assert stripe_api.requests() == []


def test_unhandled_event_type_is_acknowledged(webhook, stripe_api):
    price = sample_events.fixture("price")
    response = webhook.post(sample_events.event("price.updated", price))

    assert response.status_code == 200
    assert DFYOrder.objects.count() == 0
    assert stripe_api.requests() == []


def test_event_without_session_id_is_acknowledged(webhook):
    session = sample_events.checkout_session()
    session["id"] = None

    response = webhook.post(sample_events.event(COMPLETED, session))

    assert response.status_code == 200
    assert DFYOrder.objects.count() == 0


def test_oversized_fields_need_review(webhook):
    stripe_event = checkout_event(
        metadata={"mode": "dfy" * 30, "plan": "p" * 500, "term": "t" * 500},
        amount_total=10**15,
        currency="pounds",
        email="x" * 300 + "@example.com",
        name="N" * 1000,
    )

    response = webhook.post(stripe_event)

    assert response.status_code == 200
    order = order_for()
    assert order.status == DFYOrder.Status.NEEDS_REVIEW
    assert order.amount_total is None
    assert order.currency == ""
    assert order.customer_email == ""
    assert len(order.customer_name) == 255
    assert order.plan == "p" * 64
    assert order.activities.get(kind="order.needs_review").data["metadata"]["plan"] == "p" * 500
