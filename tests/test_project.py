"""Project wiring: migrations, dj-stripe's in-request sync, health, and the management commands."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from djstripe.models import Account, APIKey, WebhookEndpoint

from orders.models import DFYOrder
from orders.stripe_sync import disconnect_djstripe_handlers
from tests.conftest import WEBHOOK_SECRET, manage


def test_models_match_migrations():
    result = manage("makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr


def test_djstripe_handlers_are_disconnected():
    # Every handler was disconnected when the app loaded, so none is left.
    assert disconnect_djstripe_handlers() == 0


@pytest.mark.django_db
def test_health_endpoint(client, stripe_endpoint):
    response = client.get("/api/webhooks/stripe/health", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["service"] == "stripe_checkout_webhook"
    assert body["endpoint_configured"] is True


@pytest.mark.django_db
def test_legacy_url_without_endpoint_is_unavailable(client):
    response = client.post(
        "/api/webhooks/stripe/checkout-completed",
        data=b"{}",
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=x",
        HTTP_HOST="127.0.0.1",
    )

    assert response.status_code == 503


@pytest.mark.django_db
def test_setup_webhook_endpoint_command(catalogue):
    output = io.StringIO()

    call_command("setup_webhook_endpoint", secret=WEBHOOK_SECRET, base_url="https://orders.levqor.example", stdout=output)
    call_command("setup_webhook_endpoint", secret=WEBHOOK_SECRET + "2", stdout=io.StringIO())

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == WEBHOOK_SECRET + "2"
    assert endpoint.api_version == "2026-05-27.dahlia"
    assert "checkout.session.completed" in endpoint.enabled_events
    assert f"/stripe/webhook/{endpoint.djstripe_uuid}/" in output.getvalue()
    assert "https://orders.levqor.example/stripe/webhook/" in output.getvalue()
    assert APIKey.objects.get().djstripe_owner_account == Account.objects.get()


@pytest.mark.django_db
def test_setup_webhook_endpoint_needs_a_secret():
    with pytest.raises(CommandError, match="secret is empty"):
        call_command("setup_webhook_endpoint", secret="", stdout=io.StringIO())


@pytest.mark.django_db
def test_send_test_webhook_refuses_other_hosts(stripe_endpoint):
    with pytest.raises(CommandError, match="Refusing to send"):
        call_command("send_test_webhook", url="https://example.com/hook", stdout=io.StringIO())


def test_send_test_webhook_against_gunicorn(gunicorn, stripe_endpoint):
    server = gunicorn(workers=1)
    url = f"{server.base_url}/api/webhooks/stripe/checkout-completed"

    result = manage(
        "send_test_webhook",
        "--url", url,
        "--mode", "subscription", "--plan", "pro", "--term", "monthly",
        "--session-id", "cs_test_command",
        "--email", "ops@example.com",
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "HTTP 200" in result.stdout
    assert "status=new tier=PRO_MONTHLY amount=£149.00" in result.stdout
    order = DFYOrder.objects.get(stripe_checkout_session_id="cs_test_command")
    assert order.customer_email == "ops@example.com"


def test_send_test_webhook_reports_needs_review(gunicorn, stripe_endpoint):
    server = gunicorn(workers=1)

    result = manage(
        "send_test_webhook", "--url", f"{server.base_url}/api/webhooks/stripe/checkout-completed",
        "--no-metadata", "--session-id", "cs_test_nometa",
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "status=needs_review" in result.stdout


@pytest.mark.django_db
def test_stripe_adapter_reads_the_double(stripe_api):
    from orders import stripe_api as adapter
    from orders.sample_events import checkout_session

    stripe_api.add(checkout_session("cs_test_adapter"))

    session = adapter.retrieve_checkout_session("cs_test_adapter")

    assert session.id == "cs_test_adapter"
    assert session.payment_status == "paid"
    assert stripe_api.requests()[0].path == "/v1/checkout/sessions/cs_test_adapter"


def test_stripe_adapter_reports_outage(stripe_api):
    from orders import stripe_api as adapter

    stripe_api.faults.extend([(500, {"error": {"type": "api_error", "message": "down"}})] * 4)

    with pytest.raises(adapter.StripeUnavailable):
        adapter.retrieve_account()
