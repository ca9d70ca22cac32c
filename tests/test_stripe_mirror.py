"""The Stripe mirror sync: dj-stripe's Session, Customer and PaymentIntent rows, refreshed by the worker."""

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone
from djstripe.models import Customer, PaymentIntent, Session

from onboarding import delivery
from onboarding.models import StripeMirrorSync
from onboarding.tasks import deliver_order
from orders import sample_events
from orders.models import DFYOrder
from tests.conftest import checkout_event

pytestmark = pytest.mark.django_db

STRIPE_DOWN = (500, {"error": {"type": "api_error", "message": "Stripe is down."}})


@pytest.fixture
def paid_order(webhook, stripe_api, resend_backend):
    """A paid order whose session, customer and payment intent the Stripe double serves."""
    payment_intent = stripe_api.add(sample_events.fixture("payment_intent"))
    customer = sample_events.fixture("customer")
    # Stripe's example customer carries a discount with an empty coupon, which
    # dj-stripe 2.11 cannot store; a real new customer has no discount.
    customer.update(id="cus_mirror", discount=None, email="customer@example.com")
    stripe_api.add(customer)
    session = sample_events.checkout_session("cs_test_mirror", customer="cus_mirror")
    session["payment_intent"] = payment_intent["id"]
    stripe_api.add(session)

    response = webhook.post(sample_events.event("checkout.session.completed", session))
    assert response.status_code == 200
    assert stripe_api.requests() == []
    return DFYOrder.objects.get()


def test_worker_syncs_the_mirror(paid_order, stripe_api):
    deliver_order.call(paid_order.pk)

    sync = StripeMirrorSync.objects.get()
    assert sync.state == StripeMirrorSync.State.SENT
    assert Session.objects.get().id == "cs_test_mirror"
    assert Customer.objects.get().id == "cus_mirror"
    assert PaymentIntent.objects.get().id == paid_order.stripe_payment_intent_id
    paths = [request.path for request in stripe_api.requests()]
    assert paths == [
        "/v1/customers/cus_mirror",
        f"/v1/payment_intents/{paid_order.stripe_payment_intent_id}",
        "/v1/checkout/sessions/cs_test_mirror",
    ]
    assert paid_order.activities.filter(kind="stripe.mirror.sent").count() == 1


def test_stripe_outage_leaves_the_order_alone(paid_order, stripe_api, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    before = model_to_dict(DFYOrder.objects.get())
    stripe_api.faults.extend([STRIPE_DOWN] * 10)

    deliver_order.call(paid_order.pk)

    order = DFYOrder.objects.get()
    assert model_to_dict(order) == before
    assert order.updated_at == paid_order.updated_at
    sync = StripeMirrorSync.objects.get()
    assert sync.state == StripeMirrorSync.State.QUEUED
    assert (sync.next_attempt_at - timezone.now()).total_seconds() > 25
    assert "Stripe API unavailable" in sync.last_error
    assert order.activities.filter(kind="stripe.mirror.retrying").count() == 1
    assert order.emails.filter(state="sent").count() == 2
    assert not Session.objects.exists()

    stripe_api.faults.clear()
    StripeMirrorSync.objects.update(next_attempt_at=timezone.now())
    assert delivery.deliver("stripe_mirror", sync.pk) is True
    assert Session.objects.filter(id="cs_test_mirror").exists()
    assert model_to_dict(DFYOrder.objects.get()) == before


def test_unknown_session_fails_without_retry(webhook, stripe_api, resend_backend):
    webhook.post(checkout_event(session_id="cs_test_missing"))

    deliver_order.call(DFYOrder.objects.get().pk)

    sync = StripeMirrorSync.objects.get()
    assert sync.state == StripeMirrorSync.State.FAILED
    assert sync.failure == StripeMirrorSync.Failure.PERMANENT
    assert "No such" in sync.last_error


def test_mirror_sync_can_be_turned_off(webhook, settings):
    settings.STRIPE_MIRROR_SYNC = False

    webhook.post(checkout_event())

    assert not StripeMirrorSync.objects.exists()
