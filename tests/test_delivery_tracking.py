"""Resend delivery tracking through Anymail's Svix-signed webhook at /anymail/resend/tracking/."""

import json
import uuid
from datetime import datetime, timezone

import pytest
from django.conf import settings
from svix.webhooks import Webhook

from onboarding.models import OutboxEmail, StaffAlert
from onboarding.tasks import deliver_order
from orders.models import DFYOrder
from tests.conftest import checkout_event

pytestmark = pytest.mark.django_db

TRACKING_PATH = "/anymail/resend/tracking/"


def tracking_event(event_type, email_id, **data):
    """A Resend webhook payload, shaped like Resend's documented email.* events."""
    return {
        "type": event_type,
        "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "data": {
            "email_id": email_id,
            "from": "Levqor <orders@levqor.example>",
            "to": ["customer@example.com"],
            "subject": "Welcome! Your STARTER order is confirmed",
            "created_at": datetime.now(timezone.utc).isoformat(),
            **data,
        },
    }


def post_tracking(client, payload, *, secret=None, message_id=None):
    body = json.dumps(payload)
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(timezone.utc)
    signature = Webhook(secret or settings.RESEND_SIGNING_SECRET).sign(message_id, now, body)
    return client.post(
        TRACKING_PATH,
        data=body,
        content_type="application/json",
        HTTP_SVIX_ID=message_id,
        HTTP_SVIX_TIMESTAMP=str(int(now.timestamp())),
        HTTP_SVIX_SIGNATURE=signature,
    )


@pytest.fixture
def welcome(webhook, resend_backend):
    webhook.post(checkout_event())
    deliver_order.call(DFYOrder.objects.get().pk)
    return OutboxEmail.objects.get(template="welcome")


def test_delivered_event_updates_the_delivery(client, welcome):
    response = post_tracking(client, tracking_event("email.delivered", welcome.provider_message_id))

    assert response.status_code == 200
    welcome.refresh_from_db()
    assert welcome.delivery_status == OutboxEmail.DeliveryStatus.DELIVERED
    assert welcome.delivery_status_at is not None
    assert welcome.order.activities.filter(kind="email.delivered").count() == 1


def test_bounce_alerts_staff_once(client, welcome, telegram):
    bounce = tracking_event(
        "email.bounced", welcome.provider_message_id,
        bounce={"message": "The recipient's email provider sent a hard bounce message.", "type": "Permanent"},
    )

    first = post_tracking(client, bounce)
    again = post_tracking(client, bounce)

    assert (first.status_code, again.status_code) == (200, 200)
    welcome.refresh_from_db()
    assert welcome.delivery_status == OutboxEmail.DeliveryStatus.BOUNCED
    assert welcome.order.activities.filter(kind="email.bounced").count() == 1
    alert = StaffAlert.objects.get(kind="bounce")
    assert alert.order == welcome.order
    assert "Welcome email to customer@example.com bounced" in alert.message


def test_complaint_is_recorded(client, welcome):
    post_tracking(client, tracking_event("email.complained", welcome.provider_message_id))

    welcome.refresh_from_db()
    assert welcome.delivery_status == OutboxEmail.DeliveryStatus.COMPLAINED


def test_late_delivered_does_not_hide_a_bounce(client, welcome):
    post_tracking(client, tracking_event("email.bounced", welcome.provider_message_id))
    post_tracking(client, tracking_event("email.delivered", welcome.provider_message_id))

    welcome.refresh_from_db()
    assert welcome.delivery_status == OutboxEmail.DeliveryStatus.BOUNCED


def test_wrong_signature_is_rejected(client, welcome):
    other_secret = "whsec_b3RoZXItc2VjcmV0LW5vdC1vdXJzLWF0LWFsbA=="

    response = post_tracking(client, tracking_event("email.bounced", welcome.provider_message_id), secret=other_secret)

    assert response.status_code == 400
    welcome.refresh_from_db()
    assert welcome.delivery_status == OutboxEmail.DeliveryStatus.UNKNOWN


def test_unsigned_event_is_rejected(client, welcome):
    response = client.post(
        TRACKING_PATH,
        data=json.dumps(tracking_event("email.bounced", welcome.provider_message_id)),
        content_type="application/json",
    )

    assert response.status_code == 400


def test_unknown_message_is_acknowledged(client, welcome):
    response = post_tracking(client, tracking_event("email.delivered", "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"))

    assert response.status_code == 200
    assert OutboxEmail.objects.exclude(delivery_status="").count() == 0
