"""Signed refund, dispute, subscription and invoice deliveries through Django's full request stack."""

import time
from datetime import UTC, datetime

import pytest
from django.utils import formats, timezone
from djstripe.models import WebhookEndpoint

from orders import sample_events
from orders.models import DFYOrder, PaymentRecord, UnmatchedStripeEvent
from orders.signals import payment_problem
from orders.stripe_setup import ENABLED_EVENTS
from tests.conftest import checkout_event
from tests.faults import failing_inserts

pytestmark = pytest.mark.django_db

Status = DFYOrder.Status
NOW = int(time.time())


@pytest.fixture(autouse=True)
def no_stripe_calls(stripe_api):
    """Every test here posts webhooks, and the webhook request must make no Stripe API call."""
    yield
    assert [request.path for request in stripe_api.requests()] == []


@pytest.fixture
def alerts():
    """The payment_problem signals sent, as (order id, problem, message, stripe_event_id)."""
    sent = []

    def collect(sender, order, problem, message, stripe_event_id, **kwargs):
        sent.append((order.pk, problem, message, stripe_event_id))

    payment_problem.connect(collect)
    yield sent
    payment_problem.disconnect(collect)


@pytest.fixture
def order(webhook):
    """A paid DFY Starter order, £99.00, payment intent pi_test_A."""
    response = webhook.post(checkout_event())
    assert response.status_code == 200
    return DFYOrder.objects.get(stripe_checkout_session_id="cs_test_A")


SUBSCRIPTION_SESSION = dict(
    session_id="cs_test_sub",
    metadata={"mode": "subscription", "plan": "pro", "term": "monthly"},
    amount_total=14900,
    stripe_mode="subscription",
    customer="cus_test_A",
    subscription="sub_test_A",
    payment_intent=None,
)


@pytest.fixture
def subscription_order(webhook):
    """A paid Pro monthly subscription order, £149.00, subscription sub_test_A."""
    response = webhook.post(checkout_event(**SUBSCRIPTION_SESSION))
    assert response.status_code == 200
    return DFYOrder.objects.get(stripe_checkout_session_id="cs_test_sub")


def post(webhook, event_type, stripe_object, *, created=None, event_id=None):
    response = webhook.post(sample_events.event(event_type, stripe_object, created=created, event_id=event_id))
    assert response.status_code == 200, response.content
    return response


def kinds(order):
    """Return the order's timeline without the alert.* rows that onboarding adds when it alerts staff."""
    return [kind for kind in order.activities.values_list("kind", flat=True) if not kind.startswith("alert.")]


def refreshed(order):
    order.refresh_from_db()
    return order


# Refunds


def test_full_refund_marks_order_refunded(webhook, order, alerts):
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=9900), event_id="evt_refund")

    order = refreshed(order)
    assert order.status == Status.REFUNDED
    assert order.amount_refunded == 9900
    assert order.amount_refunded_display == "£99.00"
    assert kinds(order)[-2:] == ["order.refunded", "staff.alert"]
    assert order.activities.get(kind="order.refunded").data == {"from": "new", "to": "refunded"}
    assert alerts == [(order.pk, "refund", "Charge ch_test_A reports £99.00 refunded: £99.00 of £99.00 refunded.", "evt_refund")]
    charge = order.payment_records.get(kind=PaymentRecord.Kind.CHARGE)
    assert charge.amount_refunded == 9900


def test_partial_refund_records_amount(webhook, order, alerts):
    post(webhook, "refund.updated", sample_events.refund("re_part", amount=3000))

    order = refreshed(order)
    assert order.status == Status.NEW
    assert order.amount_refunded == 3000
    assert "payment.partially_refunded" in kinds(order)
    assert [alert[1] for alert in alerts] == ["refund"]
    assert "£30.00 of £99.00 refunded" in alerts[0][2]


def test_same_refund_twice_counts_once(webhook, order, alerts):
    refund = sample_events.refund("re_twice", amount=3000)

    post(webhook, "refund.updated", refund, created=NOW, event_id="evt_first")
    post(webhook, "refund.updated", refund, created=NOW, event_id="evt_again")

    order = refreshed(order)
    assert order.amount_refunded == 3000
    assert len(alerts) == 1
    assert kinds(order)[-1] == "stripe.event_ignored"
    assert order.activities.last().stripe_event_id == "evt_again"


def test_two_partial_refunds_make_a_full_refund(webhook, order, alerts):
    post(webhook, "refund.updated", sample_events.refund("re_one", amount=3000), created=NOW)
    assert refreshed(order).status == Status.NEW

    post(webhook, "refund.updated", sample_events.refund("re_two", amount=6900), created=NOW + 1)

    order = refreshed(order)
    assert order.status == Status.REFUNDED
    assert order.amount_refunded == 9900
    assert [alert[1] for alert in alerts] == ["refund", "refund"]


def test_two_charge_totals_make_a_full_refund(webhook, order):
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=3000), created=NOW)
    assert refreshed(order).amount_refunded == 3000

    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=9900), created=NOW + 5)

    order = refreshed(order)
    assert order.status == Status.REFUNDED
    assert order.amount_refunded == 9900


def test_charge_and_refund_events_for_one_refund(webhook, order, alerts):
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=3000), created=NOW)
    post(webhook, "refund.updated", sample_events.refund("re_same", amount=3000), created=NOW + 1)

    order = refreshed(order)
    assert order.amount_refunded == 3000
    assert order.status == Status.NEW
    assert len(alerts) == 1
    assert kinds(order)[-1] == "payment.refund_updated"


def test_older_charge_total_is_stale(webhook, order):
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=9900), created=NOW + 20)
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=3000), created=NOW + 10)

    order = refreshed(order)
    assert order.status == Status.REFUNDED
    assert order.amount_refunded == 9900
    assert kinds(order)[-1] == "stripe.event_ignored"


def test_same_second_charge_totals_keep_the_larger(webhook, order):
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=9900), created=NOW)
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=3000), created=NOW)

    assert refreshed(order).amount_refunded == 9900


def test_failed_refund_no_longer_counts(webhook, order, alerts):
    post(webhook, "refund.created", sample_events.refund("re_fail", amount=3000, status="pending", created=NOW), created=NOW)
    assert refreshed(order).amount_refunded == 3000

    post(webhook, "refund.updated", sample_events.refund("re_fail", amount=3000, status="failed", created=NOW), created=NOW + 30)

    order = refreshed(order)
    assert order.amount_refunded == 0
    assert "payment.refund_reversed" in kinds(order)
    assert [alert[1] for alert in alerts] == ["refund", "refund_reversed"]


def test_failed_refund_leaves_charge_total(webhook, order):
    # The charge total was reported while the refund was live; its failure comes later.
    refund = sample_events.refund("re_fail", amount=3000, status="succeeded", created=NOW)
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=3000), created=NOW + 10)
    refund["status"] = "failed"
    post(webhook, "refund.updated", refund, created=NOW + 20)

    assert refreshed(order).amount_refunded == 0


def test_full_refund_after_failed_refund(webhook, order):
    post(webhook, "refund.updated", sample_events.refund("re_bad", amount=9900, status="failed"), created=NOW)
    assert refreshed(order).amount_refunded == 0

    post(webhook, "refund.updated", sample_events.refund("re_good", amount=9900), created=NOW + 5)

    assert refreshed(order).status == Status.REFUNDED


def test_refund_found_by_charge_id(webhook, order):
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=1000), created=NOW)

    refund = sample_events.refund("re_by_charge", amount=2000, payment_intent=None)
    post(webhook, "refund.updated", refund, created=NOW + 1)

    order = refreshed(order)
    assert order.payment_records.filter(kind=PaymentRecord.Kind.REFUND).count() == 1
    assert order.amount_refunded == 2000


def test_refund_of_failed_payment_is_rejected(webhook, alerts):
    webhook.post(checkout_event(payment_status="unpaid"))
    webhook.post(checkout_event("checkout.session.async_payment_failed", payment_status="unpaid"))
    order = DFYOrder.objects.get()

    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=9900))

    order = refreshed(order)
    assert order.status == Status.PAYMENT_FAILED
    assert order.amount_refunded == 9900
    rejected = order.activities.get(kind="order.transition_rejected")
    assert rejected.data == {"from": "payment_failed", "to": "refunded"}
    assert "stays payment failed" in rejected.message
    assert [alert[1] for alert in alerts] == ["payment_failed", "refund"]


def test_refund_write_failure_is_retried(webhook, order):
    stripe_event = sample_events.event("charge.refunded", sample_events.charge(amount_refunded=9900))

    with failing_inserts("orders_paymentrecord"):
        failed = webhook.post(stripe_event)

    assert failed.status_code == 500
    assert refreshed(order).status == Status.NEW

    retried = webhook.post(stripe_event)

    assert retried.status_code == 200
    assert refreshed(order).status == Status.REFUNDED


# Disputes


def test_dispute_opened_then_won(webhook, order, alerts):
    due_by = NOW + 7 * 86400
    post(webhook, "charge.dispute.created", sample_events.dispute(due_by=due_by), created=NOW)

    order = refreshed(order)
    assert order.status == Status.DISPUTED
    assert order.status_before_dispute == Status.NEW
    assert order.dispute_evidence_due_by == datetime.fromtimestamp(due_by, tz=UTC)

    post(webhook, "charge.dispute.closed", sample_events.dispute(status="won", due_by=due_by), created=NOW + 60)

    order = refreshed(order)
    assert order.status == Status.NEW
    assert order.status_before_dispute == ""
    assert order.dispute_evidence_due_by is None
    assert "order.disputed" in kinds(order)
    assert "order.dispute_closed" in kinds(order)
    assert [alert[1] for alert in alerts] == ["dispute", "dispute"]
    assert "evidence due by" in alerts[0][2]
    assert alerts[1][2] == "Dispute dp_test_A closed as won. The order is back to new."


def test_lost_dispute_refunds_order(webhook, order, alerts):
    post(webhook, "charge.dispute.created", sample_events.dispute(), created=NOW)
    post(webhook, "charge.dispute.closed", sample_events.dispute(status="lost"), created=NOW + 60)

    order = refreshed(order)
    assert order.status == Status.REFUNDED
    assert order.activities.filter(kind="order.refunded").get().data == {"from": "disputed", "to": "refunded"}
    assert len(alerts) == 2


def test_won_dispute_returns_to_needs_review(webhook):
    webhook.post(checkout_event(amount_total=100))
    order = DFYOrder.objects.get()
    assert order.status == Status.NEEDS_REVIEW

    post(webhook, "charge.dispute.created", sample_events.dispute(amount=100), created=NOW)
    post(webhook, "charge.dispute.closed", sample_events.dispute(amount=100, status="won"), created=NOW + 60)

    assert refreshed(order).status == Status.NEEDS_REVIEW


def test_dispute_closed_before_created(webhook, order, alerts):
    post(webhook, "charge.dispute.closed", sample_events.dispute(status="lost"), created=NOW + 60)
    post(webhook, "charge.dispute.created", sample_events.dispute(), created=NOW)

    order = refreshed(order)
    assert order.status == Status.REFUNDED
    assert order.dispute_evidence_due_by is None
    assert order.payment_records.get(kind=PaymentRecord.Kind.DISPUTE).status == "lost"
    ignored = order.activities.last()
    assert ignored.kind == "stripe.event_ignored"
    assert ignored.message == (
        "charge.dispute.created changed nothing: dispute dp_test_A already has this or a later state (lost)."
    )
    assert len(alerts) == 1


def test_won_dispute_closed_before_created(webhook, order):
    post(webhook, "charge.dispute.closed", sample_events.dispute(status="won"), created=NOW + 60)
    post(webhook, "charge.dispute.created", sample_events.dispute(), created=NOW)

    order = refreshed(order)
    assert order.status == Status.NEW
    assert "order.disputed" not in kinds(order)


def test_duplicate_dispute_alerts_once(webhook, order, alerts):
    dispute = sample_events.dispute()
    post(webhook, "charge.dispute.created", dispute, created=NOW, event_id="evt_dispute_1")
    post(webhook, "charge.dispute.created", dispute, created=NOW, event_id="evt_dispute_2")

    assert refreshed(order).status == Status.DISPUTED
    assert len(alerts) == 1
    assert kinds(order)[-1] == "stripe.event_ignored"


def test_dispute_update_moves_deadline(webhook, order):
    post(webhook, "charge.dispute.created", sample_events.dispute(due_by=NOW + 86400), created=NOW)
    post(
        webhook, "charge.dispute.updated",
        sample_events.dispute(status="under_review", due_by=NOW + 3 * 86400), created=NOW + 10,
    )

    order = refreshed(order)
    assert order.status == Status.DISPUTED
    assert order.dispute_evidence_due_by == datetime.fromtimestamp(NOW + 3 * 86400, tz=UTC)
    assert kinds(order)[-1] == "payment.dispute_updated"


def test_second_dispute_keeps_order_disputed(webhook, order):
    post(webhook, "charge.dispute.created", sample_events.dispute("dp_one"), created=NOW)
    post(webhook, "charge.dispute.created", sample_events.dispute("dp_two"), created=NOW + 1)
    post(webhook, "charge.dispute.closed", sample_events.dispute("dp_one", status="won"), created=NOW + 60)

    order = refreshed(order)
    assert order.status == Status.DISPUTED
    assert "still open" in order.activities.filter(kind="payment.dispute_closed").get().message

    post(webhook, "charge.dispute.closed", sample_events.dispute("dp_two", status="won"), created=NOW + 70)

    assert refreshed(order).status == Status.NEW


def test_dispute_of_refunded_order_returns_to_refunded(webhook, order):
    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=9900), created=NOW)
    post(webhook, "charge.dispute.created", sample_events.dispute(), created=NOW + 10)
    assert refreshed(order).status == Status.DISPUTED

    post(webhook, "charge.dispute.closed", sample_events.dispute(status="won"), created=NOW + 60)

    assert refreshed(order).status == Status.REFUNDED


# Subscriptions and invoices


def test_subscription_status_follows_events(webhook, subscription_order):
    for offset, (event_type, status) in enumerate(
        [
            ("customer.subscription.created", "active"),
            ("customer.subscription.updated", "past_due"),
            ("customer.subscription.updated", "active"),
            ("customer.subscription.deleted", "canceled"),
        ]
    ):
        post(webhook, event_type, sample_events.subscription(status=status), created=NOW + offset)
        assert refreshed(subscription_order).subscription_status == status

    order = subscription_order
    assert order.get_subscription_status_display() == "Cancelled"
    assert order.status == Status.NEW
    assert kinds(order).count("subscription.status_changed") == 4


def test_subscription_update_without_status_change_is_quiet(webhook, subscription_order):
    post(webhook, "customer.subscription.created", sample_events.subscription(), created=NOW)
    history = kinds(refreshed(subscription_order))

    post(webhook, "customer.subscription.updated", sample_events.subscription(), created=NOW + 5)

    assert kinds(refreshed(subscription_order)) == history


def test_older_subscription_event_is_stale(webhook, subscription_order):
    post(webhook, "customer.subscription.updated", sample_events.subscription(status="past_due"), created=NOW + 20)
    post(webhook, "customer.subscription.updated", sample_events.subscription(status="active"), created=NOW + 10)

    order = refreshed(subscription_order)
    assert order.subscription_status == "past_due"
    assert kinds(order)[-1] == "stripe.event_ignored"


def test_cancelled_subscription_stays_cancelled(webhook, subscription_order):
    post(webhook, "customer.subscription.deleted", sample_events.subscription(status="canceled"), created=NOW)
    post(webhook, "invoice.paid", sample_events.invoice(), created=NOW + 10)

    order = refreshed(subscription_order)
    assert order.subscription_status == "canceled"
    assert "subscription.renewed" in kinds(order)


def test_renewal_is_logged_once(webhook, subscription_order):
    invoice = sample_events.invoice("in_renewal", amount=14900)
    post(webhook, "invoice.paid", invoice, created=NOW, event_id="evt_paid_1")
    post(webhook, "invoice.paid", invoice, created=NOW, event_id="evt_paid_2")

    order = refreshed(subscription_order)
    renewal = order.activities.get(kind="subscription.renewed")
    assert renewal.message == "Renewal paid: £149.00 (invoice in_renewal)."
    assert renewal.stripe_event_id == "evt_paid_1"
    assert order.payment_records.get(kind=PaymentRecord.Kind.INVOICE).status == "paid"
    assert order.subscription_status == "active"


def test_failed_renewal_then_paid(webhook, subscription_order, alerts):
    post(webhook, "customer.subscription.created", sample_events.subscription(), created=NOW)
    post(webhook, "invoice.payment_failed", sample_events.invoice("in_retry", paid=False), created=NOW + 10)

    order = refreshed(subscription_order)
    assert order.subscription_status == "past_due"
    assert [alert[1] for alert in alerts] == ["invoice_payment_failed"]
    assert "Payment of invoice in_retry for £149.00 failed (attempt 1)." in alerts[0][2]

    post(webhook, "invoice.paid", sample_events.invoice("in_retry", attempt_count=2), created=NOW + 20)

    order = refreshed(subscription_order)
    assert order.subscription_status == "active"
    assert order.payment_records.get().status == "paid"


def test_late_payment_failure_after_paid_is_stale(webhook, subscription_order):
    post(webhook, "invoice.paid", sample_events.invoice("in_x", attempt_count=2), created=NOW + 20)
    post(webhook, "invoice.payment_failed", sample_events.invoice("in_x", paid=False), created=NOW + 10)

    order = refreshed(subscription_order)
    assert order.payment_records.get().status == "paid"
    assert order.subscription_status == "active"
    assert kinds(order)[-1] == "stripe.event_ignored"


def test_legacy_invoice_subscription_field(webhook, subscription_order):
    invoice = sample_events.invoice("in_legacy")
    invoice["parent"] = None
    invoice["subscription"] = "sub_test_A"
    invoice["customer"] = "cus_other"

    post(webhook, "invoice.paid", invoice)

    assert refreshed(subscription_order).payment_records.get().stripe_id == "in_legacy"


def test_subscription_event_before_checkout(webhook):
    post(webhook, "customer.subscription.created", sample_events.subscription(), created=NOW, event_id="evt_early")
    unmatched = UnmatchedStripeEvent.objects.get()
    assert unmatched.order is None

    webhook.post(checkout_event(**SUBSCRIPTION_SESSION))

    order = DFYOrder.objects.get()
    assert order.subscription_status == "active"
    assert "stripe.event_matched" in kinds(order)
    unmatched.refresh_from_db()
    assert unmatched.order == order
    assert unmatched.resolved_at is not None


# Events that change nothing, and events that match no order


def test_expired_session_changes_nothing(webhook, order):
    history = kinds(order)
    session = sample_events.checkout_session("cs_test_A", payment_status="unpaid")
    session["status"] = "expired"
    other = sample_events.checkout_session("cs_test_other", payment_status="unpaid")
    other["status"] = "expired"

    post(webhook, "checkout.session.expired", session)
    post(webhook, "checkout.session.expired", other)

    assert refreshed(order).status == Status.NEW
    assert kinds(order) == history
    assert DFYOrder.objects.count() == 1
    assert not UnmatchedStripeEvent.objects.exists()


@pytest.mark.parametrize("event_type, fixture", [("charge.succeeded", "charge"), ("invoice.created", "invoice")])
def test_unused_event_types_change_nothing(webhook, order, event_type, fixture):
    history = kinds(order)

    post(webhook, event_type, sample_events.fixture(fixture))

    assert kinds(refreshed(order)) == history
    assert not PaymentRecord.objects.exists()
    assert not UnmatchedStripeEvent.objects.exists()


def test_unmatched_refund_is_listed_for_staff(webhook, admin_client):
    post(webhook, "refund.updated", sample_events.refund("re_orphan", payment_intent="pi_unknown", charge="ch_unknown"))

    unmatched = UnmatchedStripeEvent.objects.get()
    assert unmatched.event_type == "refund.updated"
    assert unmatched.stripe_object_id == "re_orphan"
    assert unmatched.reason == "no order has payment intent pi_unknown, charge ch_unknown"
    assert not PaymentRecord.objects.exists()

    listing = admin_client.get("/admin/orders/unmatchedstripeevent/", HTTP_HOST="127.0.0.1")
    assert listing.status_code == 200
    assert "re_orphan" in listing.content.decode()
    add_page = admin_client.get("/admin/orders/unmatchedstripeevent/add/", HTTP_HOST="127.0.0.1")
    assert add_page.status_code == 403


def test_unmatched_refund_applies_when_order_arrives(webhook):
    post(webhook, "charge.refunded", sample_events.charge(payment_intent="pi_late", amount_refunded=9900))

    webhook.post(checkout_event(payment_intent="pi_late"))

    order = DFYOrder.objects.get()
    assert order.status == Status.REFUNDED
    assert UnmatchedStripeEvent.objects.get().order == order


def test_refund_waits_for_its_charge(webhook, order):
    refund = sample_events.refund("re_early", amount=2000, payment_intent=None)
    post(webhook, "refund.updated", refund, created=NOW)
    assert UnmatchedStripeEvent.objects.get().order is None

    post(webhook, "charge.refunded", sample_events.charge(amount_refunded=2000), created=NOW + 1)

    order = refreshed(order)
    assert order.amount_refunded == 2000
    assert order.payment_records.get(kind=PaymentRecord.Kind.REFUND).stripe_id == "re_early"
    assert UnmatchedStripeEvent.objects.get().order == order


def test_customer_with_several_orders_is_no_key(webhook):
    webhook.post(checkout_event(session_id="cs_test_one", customer="cus_shared", payment_intent="pi_one"))
    webhook.post(checkout_event(session_id="cs_test_two", customer="cus_shared", payment_intent="pi_two"))
    refund = sample_events.refund("re_ambiguous", payment_intent=None, charge="ch_unknown")
    refund["customer"] = "cus_shared"

    post(webhook, "refund.updated", refund)

    assert "customer cus_shared has several orders" in UnmatchedStripeEvent.objects.get().reason
    assert set(DFYOrder.objects.values_list("amount_refunded", flat=True)) == {0}


def test_invalid_lifecycle_payload_is_acknowledged(webhook, order):
    wrong = sample_events.fixture("customer")

    post(webhook, "refund.updated", wrong)

    assert not UnmatchedStripeEvent.objects.exists()
    assert not PaymentRecord.objects.exists()


# Admin and setup


def test_order_page_shows_payment_history(webhook, admin_client):
    webhook.post(checkout_event(amount_total=50000, currency="jpy", payment_intent="pi_jpy"))
    order = DFYOrder.objects.get()
    due_by = NOW + 5 * 86400
    post(webhook, "refund.updated", sample_events.refund("re_jpy", payment_intent="pi_jpy", amount=5000, currency="jpy"))
    post(webhook, "charge.dispute.created", sample_events.dispute("dp_jpy", payment_intent="pi_jpy", amount=45000, currency="jpy", due_by=due_by))

    page = admin_client.get(f"/admin/orders/dfyorder/{order.pk}/change/", HTTP_HOST="127.0.0.1")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Payment history" in html
    assert "re_jpy" in html
    assert "¥5,000" in html
    assert "¥45,000" in html
    assert "dispute evidence due by" in html.lower()
    assert formats.localize(timezone.localtime(datetime.fromtimestamp(due_by, tz=UTC))) in html


def test_admin_form_cannot_set_status(order, admin_client):
    page = admin_client.get(f"/admin/orders/dfyorder/{order.pk}/change/", HTTP_HOST="127.0.0.1")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update({"status": "refunded"})
    for prefix in (inline.formset.prefix for inline in page.context["inline_admin_formsets"]):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})

    response = admin_client.post(f"/admin/orders/dfyorder/{order.pk}/change/", data, HTTP_HOST="127.0.0.1")

    # Refunded is set by Stripe's refund events only: the form shows an error instead of saving.
    assert response.status_code == 200
    assert "Error" in response.content.decode()
    assert refreshed(order).status == "new"
    assert not refreshed(order).activities.filter(kind="order.status_changed").exists()


def test_endpoint_enables_lifecycle_events(stripe_endpoint):
    endpoint = WebhookEndpoint.objects.get()

    for event_type in ("charge.refunded", "refund.updated", "charge.dispute.closed", "invoice.paid"):
        assert event_type in endpoint.enabled_events
    assert "checkout.session.expired" not in ENABLED_EVENTS


# Concurrent deliveries against gunicorn with two worker processes


def test_refunds_at_once_count_each_once(gunicorn, stripe_endpoint):
    from tests.test_concurrency import deliver_burst

    server = gunicorn(workers=2)
    url = f"{server.base_url}/stripe/webhook/{stripe_endpoint.djstripe_uuid}/"
    assert deliver_burst(url, [checkout_event()])[0] == [200]
    same_refund = sample_events.refund("re_race", amount=3000)
    other_refund = sample_events.refund("re_other", amount=2000)

    statuses, _ = deliver_burst(
        url,
        [
            sample_events.event("refund.updated", same_refund, created=NOW),
            sample_events.event("refund.updated", same_refund, created=NOW),
            sample_events.event("refund.updated", other_refund, created=NOW),
        ],
    )

    assert statuses == [200, 200, 200]
    order = DFYOrder.objects.get()
    assert order.amount_refunded == 5000
    assert PaymentRecord.objects.count() == 2
    assert order.activities.filter(kind="payment.partially_refunded").count() == 2
