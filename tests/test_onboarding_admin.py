"""The admin shows the outbox rows and their attempts, read-only."""

import pytest

from onboarding.models import DeliveryAttempt, OutboxEmail
from onboarding.tasks import deliver_order
from orders.models import DFYOrder
from tests.conftest import checkout_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered_order(webhook, resend_backend, telegram):
    webhook.post(checkout_event())
    order = DFYOrder.objects.get()
    deliver_order.call(order.pk)
    return order


@pytest.mark.parametrize("model", ["outboxemail", "staffalert", "stripemirrorsync", "deliveryattempt"])
def test_changelists_render(admin_client, delivered_order, model):
    response = admin_client.get(f"/admin/onboarding/{model}/", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200


def test_attempts_show_on_the_email_page(admin_client, delivered_order):
    welcome = OutboxEmail.objects.get(template="welcome")

    response = admin_client.get(f"/admin/onboarding/outboxemail/{welcome.pk}/change/", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Delivery attempts" in page or "delivery attempts" in page
    assert 'name="state"' not in page


def test_attempts_cannot_be_added_or_changed(admin_client, delivered_order):
    attempt = DeliveryAttempt.objects.first()

    assert admin_client.get("/admin/onboarding/deliveryattempt/add/", HTTP_HOST="127.0.0.1").status_code == 403
    response = admin_client.post(
        f"/admin/onboarding/deliveryattempt/{attempt.pk}/change/", {"error": "edited"}, HTTP_HOST="127.0.0.1"
    )
    assert response.status_code == 403
    attempt.refresh_from_db()
    assert attempt.error == ""


def test_order_page_lists_deliveries_and_alerts(admin_client, delivered_order):
    response = admin_client.get(f"/admin/orders/dfyorder/{delivered_order.pk}/change/", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Email deliveries" in page
    assert "Staff alerts" in page
    assert "Intake state" in page
