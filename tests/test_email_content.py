"""Email content: templates/emails/<name>/ subject, text and HTML parts, and what each email promises."""

from pathlib import Path

import pytest
from django.conf import settings

from onboarding.rendering import render_email
from orders.models import DFYOrder
from tests.conftest import checkout_event

pytestmark = pytest.mark.django_db

DFY_PLANS = [
    ("starter", 9900, "48 hours"),
    ("professional", 24900, "3 to 4 days"),
    ("enterprise", 59900, "7 days"),
]


@pytest.mark.parametrize("name", ["welcome", "intake", "intake_reminder"])
def test_each_email_has_three_parts(name):
    folder = Path(settings.BASE_DIR) / "templates" / "emails" / name

    assert sorted(path.name for path in folder.iterdir()) == ["body.html", "body.txt", "subject.txt"]


@pytest.mark.parametrize("plan, amount, promise", DFY_PLANS)
def test_welcome_states_tier_and_deadline(webhook, plan, amount, promise):
    webhook.post(checkout_event(metadata={"mode": "dfy", "plan": plan}, amount_total=amount))
    order = DFYOrder.objects.get()

    welcome = render_email("welcome", order)

    for body in (welcome.text, welcome.html):
        assert order.tier in body
        assert "What happens next" in body
        assert f"within {promise}" in body or f"within <strong>{promise}</strong>" in body
        assert f"{order.deadline:%Y}" in body
        assert order.reference in body
    assert welcome.subject == f"Welcome! Your {order.tier} order is confirmed"


def test_subscription_welcome_has_no_deadline(webhook):
    webhook.post(checkout_event(
        metadata={"mode": "subscription", "plan": "pro", "term": "monthly"}, amount_total=14900,
        stripe_mode="subscription", customer="cus_sub", subscription="sub_sub",
    ))

    welcome = render_email("welcome", DFYOrder.objects.get())

    assert "delivered within" not in welcome.text
    assert "PRO_MONTHLY" in welcome.text


def test_html_part_escapes_the_customer_name(webhook):
    webhook.post(checkout_event(name="<b>Mallory</b> & Co"))

    welcome = render_email("welcome", DFYOrder.objects.get())

    assert "&lt;b&gt;Mallory&lt;/b&gt; &amp; Co" in welcome.html
    assert "Hello <b>Mallory</b> & Co," in welcome.text
