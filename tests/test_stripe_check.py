"""stripe_check and GET /api/stripe/check against the loopback Stripe API double."""

import io
import json
import re

import pytest
import stripe
from django.contrib.auth import get_user_model
from django.core.management import call_command

from orders.models import Plan
from orders.stripe_setup import ENABLED_EVENTS
from tests.conftest import child_env, free_port, manage
from tests.doubles.stripe_api import account, catalogue_price, webhook_endpoint
from tests.reports import run_command

ACCOUNT_ID = "acct_levqorTestAccount01"
ENDPOINT_ID = "we_levqorTestEndpoint01"
API_VERSION = "2026-05-27.dahlia"


def price_id(plan):
    return f"price_{plan.tier.lower().replace('_', '')}"


@pytest.fixture
def stripe_setup(settings, stripe_api, stripe_endpoint):
    """Store in the double an account, one price per catalogue plan and the webhook endpoint, all matching."""
    settings.STRIPE_ACCOUNT_ID = ACCOUNT_ID
    settings.STRIPE_WEBHOOK_ENDPOINT_ID = stripe_endpoint.id
    plans = list(Plan.objects.all())
    settings.STRIPE_PRICE_IDS = {plan.price_setting_name.removeprefix("STRIPE_PRICE_"): price_id(plan) for plan in plans}

    stripe_api.add(account(ACCOUNT_ID))
    for plan in plans:
        stripe_api.add(catalogue_price(plan, price_id(plan)))
    stripe_api.add(
        webhook_endpoint(
            stripe_endpoint.id, enabled_events=ENABLED_EVENTS, api_version=API_VERSION, url=stripe_endpoint.url
        )
    )
    return stripe_api


def stored(stripe_api, object_type, object_id):
    return stripe_api.objects[object_type][object_id]


def run_check(*args):
    """Run stripe_check --json; return (report dict, CommandError or None)."""
    stdout, _, error = run_command("stripe_check", "--json", *args)
    return json.loads(stdout), error


def findings(report, status=None):
    return {
        finding["check"]: finding["message"]
        for finding in report["findings"]
        if status is None or finding["status"] == status
    }


def test_stripe_check_passes(stripe_setup):
    report, error = run_check()

    assert error is None
    assert report["ok"] is True
    assert report["facts"]["account"] == ACCOUNT_ID
    assert findings(report, "fail") == {}
    passed = findings(report, "ok")
    assert "price DFY_STARTER" in passed
    assert "price SUBSCRIPTION_GROWTH_YEARLY" in passed
    assert "every year" in passed["price SUBSCRIPTION_GROWTH_YEARLY"]
    assert {"account", "charges_enabled", "webhook_status", "webhook_events", "webhook_api_version", "webhook_url"} <= set(passed)
    # One request for the account, one per price, one for the endpoint.
    assert len(stripe_setup.requests()) == 1 + Plan.objects.count() + 1


def test_stripe_check_text_output(stripe_setup):
    output = io.StringIO()

    call_command("stripe_check", stdout=output)

    text = output.getvalue()
    assert "Stripe check" in text
    assert re.search(r"^OK    price DFY_STARTER +Price price_starter matches DFY Starter: £99.00 one-off\.$", text, re.M)
    assert text.rstrip().splitlines()[-1] == "stripe_check: 0 failed, 1 warning, 17 passed"


def test_stripe_check_quiet_output(stripe_setup):
    output = io.StringIO()

    call_command("stripe_check", verbosity=0, stdout=output)

    lines = output.getvalue().strip().splitlines()
    assert all(not line.startswith("OK") for line in lines)
    assert lines[-1].startswith("stripe_check: 0 failed")


def test_stripe_check_wrong_currency(stripe_setup):
    starter = Plan.objects.get(tier="STARTER")
    stored(stripe_setup, "price", price_id(starter))["currency"] = "usd"

    report, error = run_check()

    assert error is not None
    assert "stripe_check: 1 failed" in str(error)
    assert findings(report, "fail") == {
        "price DFY_STARTER": "Price price_starter: currency USD, expected GBP.",
    }


def test_stripe_check_inactive_price(stripe_setup):
    growth = Plan.objects.get(tier="GROWTH_MONTHLY")
    stored(stripe_setup, "price", price_id(growth))["active"] = False

    report, error = run_check()

    assert error is not None
    assert findings(report, "fail") == {"price SUBSCRIPTION_GROWTH_MONTHLY": "Price price_growthmonthly: inactive."}


def test_stripe_check_missing_price(stripe_setup, settings):
    settings.STRIPE_PRICE_IDS = {**settings.STRIPE_PRICE_IDS, "DFY_ENTERPRISE": "price_doesnotexist"}

    report, error = run_check()

    assert error is not None
    failed = findings(report, "fail")
    assert failed == {"price DFY_ENTERPRISE": "Price price_doesnotexist does not exist in Stripe (test mode)."}


def test_stripe_check_wrong_amount_and_interval(stripe_setup):
    pro = Plan.objects.get(tier="PRO_YEARLY")
    price = stored(stripe_setup, "price", price_id(pro))
    price["unit_amount"] = 14900
    price["recurring"]["interval"] = "month"

    report, error = run_check()

    assert error is not None
    assert findings(report, "fail") == {
        "price SUBSCRIPTION_PRO_YEARLY": "Price price_proyearly: amount £149.00, expected £1,490.00; "
        "billed every 1 month, expected every year.",
    }


def test_stripe_check_recurring_price_for_one_off_plan(stripe_setup):
    starter = Plan.objects.get(tier="STARTER")
    monthly = Plan.objects.get(tier="STARTER_MONTHLY")
    stripe_setup.add(catalogue_price(monthly, price_id(starter)) | {"unit_amount": starter.amount})

    report, error = run_check()

    assert error is not None
    assert "billed every 1 month, expected one-off" in findings(report, "fail")["price DFY_STARTER"]


def test_stripe_check_unset_and_unknown_price_variables(stripe_setup, settings):
    price_ids = dict(settings.STRIPE_PRICE_IDS)
    del price_ids["DFY_STARTER"]
    price_ids["DFY_STARTR"] = "price_typo"
    settings.STRIPE_PRICE_IDS = price_ids

    report, error = run_check()

    assert error is None
    warnings = findings(report, "warning")
    assert warnings["price DFY_STARTER"] == "STRIPE_PRICE_DFY_STARTER is not set for DFY Starter."
    assert "STRIPE_PRICE_DFY_STARTR matches no active catalogue plan" in warnings["price DFY_STARTR"]


def test_stripe_check_revoked_key(stripe_setup, settings):
    stripe_setup.revoked_keys.add(settings.STRIPE_TEST_SECRET_KEY)

    report, error = run_check()

    assert error is not None
    assert findings(report, "fail") == {
        "api_key": "Stripe rejected the test secret key: Invalid API Key provided: sk_test_****0000",
    }
    # Nothing else is tried with a rejected key.
    assert len(stripe_setup.requests()) == 1


def test_stripe_check_unreachable_api(stripe_setup, monkeypatch):
    port = free_port()
    monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{port}")

    report, error = run_check()

    assert error is not None
    failed = findings(report, "fail")
    assert list(failed) == ["api"]
    assert failed["api"].startswith(f"The Stripe API at http://127.0.0.1:{port} could not be reached: network error:")
    assert "Connection refused" in failed["api"]


def test_stripe_check_charges_disabled(stripe_setup, settings):
    stored(stripe_setup, "account", ACCOUNT_ID)["charges_enabled"] = False

    report, error = run_check()
    assert error is None
    assert "test payments work" in findings(report, "warning")["charges_enabled"]

    settings.STRIPE_LIVE_MODE = True
    settings.STRIPE_LIVE_SECRET_KEY = "sk_live_levqorLiveKeyForTests00000000"
    report, error = run_check()
    assert error is not None
    assert "live payments fail" in findings(report, "fail")["charges_enabled"]


def test_stripe_check_account_id_mismatch(stripe_setup, settings):
    settings.STRIPE_ACCOUNT_ID = "acct_levqor_local"

    report, error = run_check()

    assert error is None
    assert findings(report, "warning")["account_id"] == (
        f"STRIPE_ACCOUNT_ID is acct_levqor_local, but the key belongs to {ACCOUNT_ID}."
    )


def test_stripe_check_webhook_endpoint_problems(stripe_setup, stripe_endpoint):
    remote = stored(stripe_setup, "webhook_endpoint", stripe_endpoint.id)
    remote.update(
        status="disabled",
        enabled_events=["checkout.session.completed"],
        api_version="2024-06-20",
        url="https://old.levqor.example/hook",
    )

    report, error = run_check()

    assert error is not None
    failed = findings(report, "fail")
    assert failed["webhook_status"] == f"Webhook endpoint {stripe_endpoint.id} is disabled, so no events arrive."
    missing = [event_type for event_type in ENABLED_EVENTS if event_type != "checkout.session.completed"]
    assert failed["webhook_events"] == f"The endpoint does not send {', '.join(missing)}."
    assert failed["webhook_api_version"].startswith(
        "The endpoint sends events in 2024-06-20, but the code parses 2026-05-27.dahlia."
    )
    assert "neither" in findings(report, "warning")["webhook_url"]


def test_stripe_check_accepts_all_events_and_legacy_url(stripe_setup, stripe_endpoint):
    remote = stored(stripe_setup, "webhook_endpoint", stripe_endpoint.id)
    remote.update(enabled_events=["*"], url="http://127.0.0.1:8000/api/webhooks/stripe/checkout-completed")

    report, error = run_check()

    assert error is None
    assert findings(report, "ok")["webhook_events"] == "The endpoint sends every event."
    assert "webhook_url" in findings(report, "ok")


def test_stripe_check_unknown_endpoint(stripe_setup, settings):
    settings.STRIPE_WEBHOOK_ENDPOINT_ID = "we_notInStripe"

    report, error = run_check()

    assert error is not None
    assert findings(report, "fail")["webhook_endpoint"] == "Stripe has no webhook endpoint we_notInStripe in test mode."


def test_stripe_check_command_exit_status(transactional_db, stripe_setup, settings):
    stripe_setup.revoked_keys.add(settings.STRIPE_TEST_SECRET_KEY)
    env = child_env(**{f"STRIPE_PRICE_{name}": value for name, value in settings.STRIPE_PRICE_IDS.items()})

    result = manage("stripe_check", "--json", env=env)

    assert result.returncode == 1
    assert json.loads(result.stdout)["ok"] is False
    assert "CommandError: stripe_check: 1 failed" in result.stderr
    assert settings.STRIPE_TEST_SECRET_KEY not in result.stdout + result.stderr


# GET /api/stripe/check

@pytest.mark.django_db
def test_stripe_check_api_requires_staff(client):
    user = get_user_model().objects.create_user("customer", password="pw-for-tests-only")

    anonymous = client.get("/api/stripe/check", HTTP_HOST="127.0.0.1")
    client.force_login(user)
    not_staff = client.get("/api/stripe/check", HTTP_HOST="127.0.0.1")

    for response in (anonymous, not_staff):
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": "Staff login required."}


def test_stripe_check_api_for_staff(client, stripe_setup):
    staff = get_user_model().objects.create_user("ops", password="pw-for-tests-only", is_staff=True)
    client.force_login(staff)

    response = client.get("/api/stripe/check", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200
    body = response.json()
    assert body["report"] == "stripe_check"
    assert body["ok"] is True
    assert findings(body, "fail") == {}


def test_stripe_check_api_reports_failure(client, stripe_setup, settings):
    staff = get_user_model().objects.create_user("ops", password="pw-for-tests-only", is_staff=True)
    client.force_login(staff)
    stripe_setup.revoked_keys.add(settings.STRIPE_TEST_SECRET_KEY)

    body = client.get("/api/stripe/check", HTTP_HOST="127.0.0.1").json()

    assert body["ok"] is False
    assert "api_key" in findings(body, "fail")
