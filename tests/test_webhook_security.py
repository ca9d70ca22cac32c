"""Requests that must be rejected with 400 and leave no order behind."""

import os
import subprocess
import sys
import time

import pytest
from django.test import override_settings

from orders.models import DFYOrder
from orders.stripe_setup import configure_endpoint
from tests.conftest import BASE_DIR, checkout_event

pytestmark = pytest.mark.django_db

ATTACKER_SECRET = "whsec_attacker_chosen_secret"


# C09: wrong or empty secrets


def test_wrong_secret_is_rejected_with_warning(webhook, caplog):
    response = webhook.post(checkout_event(), secret="whsec_some_other_endpoint")

    assert response.status_code == 400
    assert DFYOrder.objects.count() == 0
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert any("signature verification failed" in record.getMessage() for record in warnings)
    assert not any(record.exc_info for record in caplog.records if record.name.startswith("djstripe"))


def test_missing_signature_is_rejected(webhook):
    response = webhook.client.post(webhook.path, data=b"{}", content_type="application/json")

    assert response.status_code == 400
    assert DFYOrder.objects.count() == 0


def test_body_not_json_is_rejected(webhook):
    response = webhook.post({}, payload=b"this is not json")

    assert response.status_code == 400
    assert DFYOrder.objects.count() == 0


def test_unknown_endpoint_is_not_found(webhook):
    response = webhook.post(checkout_event(), path="/stripe/webhook/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404


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


# C10: the X-Djstripe-Webhook-Secret header


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_forged_secret_header_is_ignored(webhook, debug):
    with override_settings(DEBUG=debug):
        response = webhook.post(
            checkout_event(),
            secret=ATTACKER_SECRET,
            headers={"HTTP_X_DJSTRIPE_WEBHOOK_SECRET": ATTACKER_SECRET},
        )

    assert response.status_code == 400
    assert DFYOrder.objects.count() == 0


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


def test_timestamp_400_seconds_old_is_rejected(webhook):
    response = webhook.post(checkout_event(), timestamp=time.time() - 400)

    assert response.status_code == 400
    assert DFYOrder.objects.count() == 0


def test_timestamp_200_seconds_old_is_accepted(webhook):
    response = webhook.post(checkout_event(), timestamp=time.time() - 200)

    assert response.status_code == 200
    assert DFYOrder.objects.count() == 1


def test_replay_ten_minutes_later_is_rejected(webhook):
    stripe_event = checkout_event()
    signed_at = time.time()
    assert webhook.post(stripe_event, timestamp=signed_at).status_code == 200

    # The captured bytes and header, sent again ten minutes on, carry a
    # timestamp ten minutes old.
    replay = webhook.post(stripe_event, timestamp=signed_at - 600)

    assert replay.status_code == 400
    assert DFYOrder.objects.count() == 1
