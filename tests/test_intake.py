"""The intake form at the signed link, the guarded transition and the reminder."""

import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import signing
from django.utils import timezone

from onboarding import delivery, intake_links
from onboarding.models import DeliveryAttempt, OutboxEmail, StaffAlert
from onboarding.outbox import queue_emails
from onboarding.rendering import render_email
from orders.intake import TransitionNotAllowed, receive_intake
from orders.models import DFYOrder
from tests.conftest import checkout_event

pytestmark = pytest.mark.django_db

ANSWERS = {
    "process": "Copy each new Stripe payment into our Google Sheet and post a summary in Slack.",
    "tools": "Stripe, Google Sheets, Slack",
    "frequency": "On every payment; email me when a row cannot be written.",
    "constraints": "",
    "contact_phone": "",
}


@pytest.fixture
def order(webhook):
    webhook.post(checkout_event())
    return DFYOrder.objects.get()


def intake_path(order):
    return intake_links.intake_url(order).removeprefix("http://127.0.0.1:8000")


def queue_reminder(order, send_at=None):
    queue_emails(order, ["intake_reminder"], timezone.now(), send_at=send_at or timezone.now() + timedelta(hours=48))
    return OutboxEmail.objects.get(order=order, template="intake_reminder")


def test_intake_email_links_to_the_form(order):
    rendered = render_email("intake", order)

    (url,) = re.findall(r"http://127\.0\.0\.1:8000/onboarding/intake/\S+/", rendered.text)
    assert url in rendered.html
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert intake_links.order_for_token(token) == order


def test_form_page_shows_the_order(client, order):
    response = client.get(intake_path(order))

    assert response.status_code == 200
    assert order.reference in response.content.decode()
    assert b'name="process"' in response.content


def test_submitted_answers_move_the_order(client, order, telegram):
    reminder = queue_reminder(order)

    response = client.post(intake_path(order), ANSWERS)

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == DFYOrder.Status.INTAKE_RECEIVED
    assert order.intake_state == DFYOrder.IntakeState.RECEIVED
    assert order.intake_answers == ANSWERS
    assert order.intake_received_at is not None
    received = order.activities.get(kind="intake.received")
    assert received.data["from"] == "new"
    assert OutboxEmail.objects.get(pk=reminder.pk).state == OutboxEmail.State.CANCELLED
    assert order.activities.filter(kind="email.cancelled").count() == 1
    assert StaffAlert.objects.filter(kind="intake_received", order=order).count() == 1
    confirmation = client.get(response["Location"])
    assert "your answers are in" in confirmation.content.decode()


def test_incomplete_answers_show_errors(client, order):
    response = client.post(intake_path(order), {**ANSWERS, "process": ""})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    order.refresh_from_db()
    assert order.status == DFYOrder.Status.NEW


def test_second_submission_changes_nothing(client, order):
    client.post(intake_path(order), ANSWERS)

    response = client.post(intake_path(order), {**ANSWERS, "process": "Something else"})

    assert response.status_code == 200
    assert "your answers are in" in response.content.decode()
    order.refresh_from_db()
    assert order.intake_answers["process"] == ANSWERS["process"]
    assert order.activities.filter(kind="intake.received").count() == 1


def test_tampered_link_is_not_found(client, order):
    path = intake_path(order)
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]

    response = client.get(tampered)

    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()


def test_link_for_another_session_is_not_found(client, order):
    token = signing.dumps({"order": order.pk, "session": "cs_test_other"}, salt=intake_links.SALT)

    response = client.get(f"/onboarding/intake/{token}/")

    assert response.status_code == 404


def test_link_signed_with_another_salt_is_not_found(client, order):
    token = signing.dumps({"order": order.pk, "session": order.stripe_checkout_session_id}, salt="another.salt")

    assert client.get(f"/onboarding/intake/{token}/").status_code == 404


def test_expired_link_explains_itself(client, order, settings):
    settings.INTAKE_LINK_MAX_AGE_DAYS = 30
    # The clock is the only input; signing reads it through time.time().
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 31 * 86400):
        path = intake_path(order)

    response = client.get(path)

    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()


def test_order_needing_review_takes_no_intake(client, webhook):
    webhook.post(checkout_event(session_id="cs_test_review", amount_total=100))
    order = DFYOrder.objects.get(stripe_checkout_session_id="cs_test_review")

    response = client.post(intake_path(order), ANSWERS)

    assert response.status_code == 409
    order.refresh_from_db()
    assert order.status == DFYOrder.Status.NEEDS_REVIEW


@pytest.mark.parametrize("status", ["awaiting_payment", "needs_review", "payment_failed", "intake_received"])
def test_transition_only_from_new(order, status):
    DFYOrder.objects.filter(pk=order.pk).update(status=status)

    with pytest.raises(TransitionNotAllowed):
        receive_intake(order.pk, ANSWERS)

    assert DFYOrder.objects.get(pk=order.pk).status == status


def test_reminder_sent_when_no_intake(order, resend_backend):
    reminder = queue_reminder(order, send_at=timezone.now() - timedelta(seconds=1))

    assert delivery.deliver("email", reminder.pk) is True

    (message,) = resend_backend.delivered()
    assert message["subject"] == f"Reminder: we need your answers to start order {order.reference}"
    assert "/onboarding/intake/" in message["text"]


def test_reminder_skipped_when_intake_arrived(order, resend_backend):
    reminder = queue_reminder(order, send_at=timezone.now() - timedelta(seconds=1))
    DFYOrder.objects.filter(pk=order.pk).update(intake_state=DFYOrder.IntakeState.RECEIVED)

    assert delivery.deliver("email", reminder.pk) is False

    assert OutboxEmail.objects.get(pk=reminder.pk).state == OutboxEmail.State.CANCELLED
    assert reminder.attempt_log.get().outcome == DeliveryAttempt.Outcome.CANCELLED
    assert resend_backend.delivered() == []
