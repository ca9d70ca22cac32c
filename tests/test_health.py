"""The cheap webhook health URL and the readiness URL."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone
from djstripe.models import WebhookEventTrigger

from onboarding.models import OutboxEmail
from orders.models import DFYOrder
from tests.conftest import BASE_DIR, child_env, free_port


@pytest.mark.django_db
def test_webhook_health_is_one_query(client, stripe_endpoint, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/api/webhooks/stripe/health", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200


@pytest.mark.django_db
def test_readiness_reports_webhooks_and_outbox(client, django_assert_num_queries):
    trigger = WebhookEventTrigger.objects.create(remote_ip="127.0.0.1", headers={}, body="{}", valid=True, processed=True)
    WebhookEventTrigger.objects.filter(pk=trigger.pk).update(created=timezone.now() - timedelta(minutes=10))
    order = DFYOrder.objects.create(stripe_checkout_session_id="cs_test_ready")
    OutboxEmail.objects.create(order=order, template="welcome", to_email="c@example.com", subject="s")
    OutboxEmail.objects.create(order=order, template="intake", to_email="c@example.com", subject="s", state="sent")

    with django_assert_num_queries(3):
        response = client.get("/api/health/ready", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["database"] == "ok"
    assert 595 <= body["seconds_since_last_webhook"] <= 660
    assert body["outbox"]["queued"] == 1
    assert body["outbox"]["sending"] == 0
    assert body["outbox"]["oldest_queued_age_seconds"] < 60


@pytest.mark.django_db
def test_readiness_before_any_webhook(client):
    body = client.get("/api/health/ready", HTTP_HOST="127.0.0.1").json()

    assert body["last_webhook_at"] is None
    assert body["seconds_since_last_webhook"] is None
    assert body["outbox"] == {"queued": 0, "scheduled": 0, "sending": 0, "oldest_queued_age_seconds": None}


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_readiness_without_database_is_503():
    """gunicorn with a DATABASE_URL whose port has nothing listening."""
    port = free_port()
    env = child_env(DATABASE_URL=f"postgres://levqor:unused@127.0.0.1:{free_port()}/levqor")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "levqor.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/api/health/ready")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)

    assert status == 503
    body = json.loads(body)
    assert body["ready"] is False
    assert body["database"] == "unreachable"
    assert body["error"] == "OperationalError"
    assert "Readiness check failed: the database is unreachable" in stderr
