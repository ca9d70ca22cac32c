"""Requests that must be rejected (400, 404 or 405) and leave no order behind, and the settings that guard them."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

import pytest
from django.conf import settings
from django.test import override_settings
from django_tasks_db.models import DBTaskResult
from djstripe.models import Event, WebhookEventTrigger

from onboarding.models import OutboxEmail
from orders import sample_events
from orders.models import DFYActivity, DFYOrder
from orders.stripe_setup import configure_endpoint
from tests.conftest import BASE_DIR, LEGACY_WEBHOOK_PATH, checkout_event

pytestmark = pytest.mark.django_db

ATTACKER_SECRET = "whsec_attacker_chosen_secret"


# Bad input: each request, the status it gets, and the dj-stripe trigger rows
# it may leave (a rejection before dj-stripe stores nothing at all).


def post_unsigned(webhook):
    return webhook.client.post(webhook.path, data=checkout_event_bytes(), content_type="application/json")


def checkout_event_bytes():
    return sample_events.encode(checkout_event())


def post_forged(webhook, debug):
    with override_settings(DEBUG=debug):
        return webhook.post(
            checkout_event(),
            secret=ATTACKER_SECRET,
            headers={"HTTP_X_DJSTRIPE_WEBHOOK_SECRET": ATTACKER_SECRET},
        )


def oversized_payload():
    padding = "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return sample_events.encode(checkout_event(metadata={"mode": "dfy", "plan": "starter", "padding": padding}))


def post_unhandled_type(webhook):
    return webhook.post(sample_events.event("product.created", sample_events.fixture("product")))


def post_to_unknown_endpoint(webhook):
    return webhook.post(checkout_event(), path="/stripe/webhook/00000000-0000-0000-0000-000000000000/")


def post_legacy_unsigned(webhook):
    return webhook.client.post(LEGACY_WEBHOOK_PATH, data=checkout_event_bytes(), content_type="application/json")


class BadInput(NamedTuple):
    send: Callable
    status: int
    triggers: int = 0
    events: int = 0


BAD_INPUTS = {
    "missing-signature": BadInput(post_unsigned, 400),
    "wrong-secret": BadInput(lambda webhook: webhook.post(checkout_event(), secret="whsec_other"), 400, triggers=1),
    "stale-timestamp": BadInput(lambda webhook: webhook.post(checkout_event(), timestamp=time.time() - 400), 400, triggers=1),
    "future-timestamp": BadInput(lambda webhook: webhook.post(checkout_event(), timestamp=time.time() + 400), 400),
    "forged-secret-header-debug-off": BadInput(lambda webhook: post_forged(webhook, debug=False), 400, triggers=1),
    "forged-secret-header-debug-on": BadInput(lambda webhook: post_forged(webhook, debug=True), 400, triggers=1),
    "body-not-json": BadInput(lambda webhook: webhook.post({}, payload=b"this is not json"), 400, triggers=1),
    "body-over-size-limit": BadInput(lambda webhook: webhook.post({}, payload=oversized_payload()), 400),
    "method-get": BadInput(lambda webhook: webhook.client.get(webhook.path), 405),
    "unknown-endpoint": BadInput(post_to_unknown_endpoint, 404),
    "unhandled-event-type": BadInput(post_unhandled_type, 200, triggers=1, events=1),
    "live-event-on-test-endpoint": BadInput(lambda webhook: webhook.post(checkout_event(livemode=True)), 400),
    "legacy-url-missing-signature": BadInput(post_legacy_unsigned, 400),
    "legacy-url-future-timestamp": BadInput(
        lambda webhook: webhook.post(checkout_event(), timestamp=time.time() + 400, path=LEGACY_WEBHOOK_PATH), 400
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_changes_nothing(webhook, stripe_api, case):
    bad_input = BAD_INPUTS[case]

    response = bad_input.send(webhook)

    assert response.status_code == bad_input.status
    assert WebhookEventTrigger.objects.count() == bad_input.triggers
    assert Event.objects.count() == bad_input.events
    assert DFYOrder.objects.count() == 0
    assert DFYActivity.objects.count() == 0
    assert OutboxEmail.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert stripe_api.requests() == []


def test_wrong_secret_is_rejected_with_warning(webhook, caplog):
    response = webhook.post(checkout_event(), secret="whsec_some_other_endpoint")

    assert response.status_code == 400
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert any("signature verification failed" in record.getMessage() for record in warnings)
    assert not any(record.exc_info for record in caplog.records if record.name.startswith("djstripe"))


@pytest.mark.parametrize(
    "case, reason",
    [
        ("missing-signature", "missing Stripe-Signature header"),
        ("future-timestamp", "s in the future"),
        ("body-over-size-limit", "over DATA_UPLOAD_MAX_MEMORY_SIZE"),
        ("live-event-on-test-endpoint", "live-mode event sent to a test-mode endpoint"),
    ],
)
def test_rejection_before_storing_is_logged(webhook, caplog, case, reason):
    BAD_INPUTS[case].send(webhook)

    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert any(reason in message for message in warnings), warnings
    assert not any(record.exc_info for record in caplog.records)


def test_test_event_on_live_endpoint_is_rejected(webhook):
    webhook.endpoint.livemode = True
    webhook.endpoint.save()

    response = webhook.post(checkout_event(livemode=False))

    assert response.status_code == 400
    assert WebhookEventTrigger.objects.count() == 0


@pytest.mark.parametrize("offset", [-200, 200, 290], ids=["200s-old", "200s-ahead", "290s-ahead"])
def test_timestamp_within_tolerance_is_accepted(webhook, offset):
    response = webhook.post(checkout_event(), timestamp=time.time() + offset)

    assert response.status_code == 200
    assert DFYOrder.objects.count() == 1


def test_empty_secret_is_refused_by_setup(db):
    with pytest.raises(ValueError, match="secret is empty"):
        configure_endpoint("")


def test_empty_endpoint_secret_fails_system_check(stripe_endpoint):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    stripe_endpoint.secret = ""
    stripe_endpoint.save()

    with pytest.raises(SystemCheckError, match="levqor.E002"):
        call_command("check")


# Production settings and DEBUG


def settings_import(**env):
    """Import the production settings in a fresh interpreter with this environment."""
    environment = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "LEVQOR_ENV")}
    environment.update(env, DJANGO_SETTINGS_MODULE="levqor.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"LEVQOR_ENV": "production", "DEBUG": "1"},
        {"DEBUG": "true", "STRIPE_LIVE_SECRET_KEY": "sk_live_" + "a" * 24},
    ],
    ids=["production", "live-key"],
)
def test_production_refuses_debug(env):
    result = settings_import(**env)

    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_secret_key_required_without_debug():
    result = settings_import(SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY is missing" in result.stderr


def test_invalid_boolean_is_reported():
    result = settings_import(DEBUG="maybe")

    assert result.returncode != 0
    assert "Invalid boolean 'maybe' in DEBUG" in result.stderr


# C11: stale and replayed signatures


def test_replay_ten_minutes_later_is_rejected(webhook):
    stripe_event = checkout_event()
    signed_at = time.time()
    assert webhook.post(stripe_event, timestamp=signed_at).status_code == 200

    # The captured bytes and header, sent again ten minutes on, carry a
    # timestamp ten minutes old.
    replay = webhook.post(stripe_event, timestamp=signed_at - 600)

    assert replay.status_code == 400
    assert DFYOrder.objects.count() == 1
