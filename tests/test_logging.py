"""Logs: one line per step of an order with its ids, a JSON format, and no secrets."""

import json
import logging
import sys

from django.conf import settings

from levqor.logformat import JsonFormatter, mask_secrets
from onboarding.tasks import deliver_order
from orders import sample_events
from orders.models import DFYOrder
from tests.conftest import WEBHOOK_SECRET, checkout_event

ORDER_STEP_LOGGERS = ("orders.receivers", "orders.services", "onboarding.outbox", "onboarding.delivery")


def order_steps(records):
    return [record for record in records if record.name in ORDER_STEP_LOGGERS]


def test_order_steps_logged_with_ids(webhook, caplog):
    stripe_event = checkout_event(event_id="evt_test_logging")

    with caplog.at_level(logging.INFO):
        response = webhook.post(stripe_event)
        order = DFYOrder.objects.get()
        deliver_order.call(order.pk)

    assert response.status_code == 200
    steps = order_steps(caplog.records)
    assert [record.getMessage() for record in steps][:3] == [
        "Stripe event evt_test_logging (checkout.session.completed) received for checkout session cs_test_A",
        f"Order {order.pk} created for session cs_test_A with status new",
        f"Queued onboarding of order {order.pk}: emails ['welcome', 'intake'], 0 alerts",
    ]
    sent = [record for record in steps if record.getMessage().startswith("Sent email ")]
    assert len(sent) == 2

    received, created, queued = steps[:3]
    assert received.stripe_event_id == "evt_test_logging"
    assert received.checkout_session_id == "cs_test_A"
    assert created.order_id == order.pk
    assert created.checkout_session_id == "cs_test_A"
    assert created.stripe_event_id == "evt_test_logging"
    assert queued.order_id == order.pk
    assert all(record.order_id == order.pk and record.outbox_id for record in sent)


def test_logs_carry_no_secrets(webhook, caplog):
    with caplog.at_level(logging.DEBUG):
        webhook.post(checkout_event())
        webhook.post(checkout_event(), secret="whsec_wrong_secret_for_this_test")
        deliver_order.call(DFYOrder.objects.get().pk)

    # The raw messages, before the formatters' masking.
    text = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    assert WEBHOOK_SECRET not in text
    assert settings.STRIPE_TEST_SECRET_KEY not in text
    assert "whsec_wrong_secret_for_this_test" not in text


def make_record(message, *args, exc_info=None, **extra):
    record = logging.LogRecord("orders.services", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_json_formatter_fields():
    record = make_record("Order %s created for session %s", 7, "cs_test_A", order_id=7, checkout_session_id="cs_test_A")

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "Order 7 created for session cs_test_A"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "orders.services"
    assert entry["order_id"] == 7
    assert entry["checkout_session_id"] == "cs_test_A"
    assert entry["time"].endswith("+00:00")
    assert "args" not in entry
    assert "msg" not in entry


def test_json_formatter_exception_is_one_line():
    try:
        raise ValueError("bad payload")
    except ValueError:
        record = make_record("Failed", exc_info=sys.exc_info())

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "ValueError: bad payload" in json.loads(line)["exception"]


def test_secret_masking():
    text = (
        "key sk_live_a1B2c3D4e5F6g7H8i9J0 rk_test_a1B2c3D4e5F6g7H8 "
        "whsec_a1B2c3D4e5F6g7H8 re_a1B2c3D4e5F6 and customer cus_a1B2c3D4e5F6"
    )

    assert mask_secrets(text) == "key sk_live_**** rk_test_**** whsec_**** re_**** and customer cus_a1B2c3D4e5F6"


def test_json_logs_from_gunicorn(gunicorn, stripe_endpoint):
    server = gunicorn(workers=1, LOG_FORMAT="json")
    url = f"{server.base_url}/stripe/webhook/{stripe_endpoint.djstripe_uuid}/"

    status, _ = sample_events.deliver(url, checkout_event(event_id="evt_test_json_log"), WEBHOOK_SECRET)
    _, stderr = server.stop()

    assert status == 200
    entries = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    created = [entry for entry in entries if entry["logger"] == "orders.services"]
    assert created[0]["message"].startswith("Order ")
    assert created[0]["stripe_event_id"] == "evt_test_json_log"
    assert created[0]["order_id"] == DFYOrder.objects.get().pk
    assert WEBHOOK_SECRET not in stderr
