"""The plan catalogue, price ids from the environment, and money display."""

import pytest
from django.test import override_settings

from orders.checkout import CheckoutSession
from orders.catalogue import match_session
from orders.models import Plan
from orders.money import format_amount
from orders import sample_events


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (9900, "gbp", "£99.00"),
        (149000, "gbp", "£1,490.00"),
        (50000, "jpy", "¥50,000"),
        (1999, "usd", "$19.99"),
        (1500, "chf", "15.00 CHF"),
        (None, "gbp", "—"),
    ],
)
def test_format_amount(amount, currency, shown):
    assert format_amount(amount, currency) == shown


def test_default_catalogue_prices(catalogue):
    prices = dict(Plan.objects.values_list("tier", "amount"))

    assert prices == {
        "STARTER": 9900,
        "PROFESSIONAL": 24900,
        "ENTERPRISE": 59900,
        "STARTER_MONTHLY": 2900,
        "STARTER_YEARLY": 29000,
        "GROWTH_MONTHLY": 7900,
        "GROWTH_YEARLY": 79000,
        "PRO_MONTHLY": 14900,
        "PRO_YEARLY": 149000,
        "BUSINESS_MONTHLY": 29900,
        "BUSINESS_YEARLY": 299000,
    }
    assert set(Plan.objects.values_list("currency", flat=True)) == {"gbp"}


def test_price_ids_come_from_settings(catalogue):
    starter = Plan.objects.get(tier="STARTER")
    growth = Plan.objects.get(tier="GROWTH_YEARLY")

    with override_settings(STRIPE_PRICE_IDS={"DFY_STARTER": "price_starter123"}):
        assert starter.price_setting_name == "STRIPE_PRICE_DFY_STARTER"
        assert starter.stripe_price_id == "price_starter123"
        assert growth.price_setting_name == "STRIPE_PRICE_SUBSCRIPTION_GROWTH_YEARLY"
        assert growth.stripe_price_id == ""


def test_plan_admin_lists_price_variables(catalogue, admin_client):
    response = admin_client.get("/admin/orders/plan/", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200
    assert "STRIPE_PRICE_DFY_STARTER" in response.content.decode()
    assert "£99.00" in response.content.decode()


def match(**session_fields):
    return match_session(CheckoutSession.from_stripe(sample_events.checkout_session(**session_fields)))


def test_dfy_term_defaults_to_one_off(catalogue):
    result = match()

    assert result.ok
    assert result.plan.tier == "STARTER"
    assert result.term == "one_off"


def test_subscription_needs_a_term(catalogue):
    result = match(metadata={"mode": "subscription", "plan": "growth"}, stripe_mode="subscription", amount_total=7900)

    assert not result.ok
    assert "no active catalogue plan" in result.problems[0]


def test_subscription_plan_sold_as_payment_is_a_problem(catalogue):
    result = match(metadata={"mode": "subscription", "plan": "growth", "term": "monthly"}, amount_total=7900)

    assert result.plan.tier == "GROWTH_MONTHLY"
    assert result.problems == ("Checkout mode 'payment' does not fit a subscription plan",)


def test_inactive_plan_does_not_match(catalogue):
    Plan.objects.filter(tier="STARTER").update(active=False)

    assert match().plan is None
