"""A staff member works the back office in Chromium, against gunicorn on 127.0.0.1."""

import csv
import io
from datetime import timedelta

from django.utils import timezone

from onboarding.models import OutboxEmail
from onboarding.tasks import deliver_order
from orders.models import DFYOrder
from tests.browser import ARTIFACTS, chromium_page
from tests.conftest import checkout_event
from tests.staff import make_orders, make_staff

PASSWORD = "correct-horse-battery-staple-42"
REASON = "Customer cannot find the welcome email."


def work_the_back_office(base_url, review_reference, paid_pk):
    """Log in, fix the order that needs review, resend an order's emails and export a CSV; return what was seen."""
    seen = {}
    with chromium_page(viewport={"width": 1500, "height": 900}) as page:
        page.goto(f"{base_url}/admin/")
        page.fill("#id_username", "oscar")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#order-dashboard")
        page.screenshot(path=str(ARTIFACTS / "back-office-dashboard.png"), full_page=True)
        seen["dashboard"] = page.text_content("#order-dashboard")

        page.get_by_role("link", name="DFY orders", exact=True).click()
        page.wait_for_selector("#changelist-filter")
        page.locator('#changelist-filter details[data-filter-title="needs review"] a', has_text="Yes").click()
        page.wait_for_url("**needs_review=yes**")
        seen["review_list"] = page.text_content("#result_list")
        page.screenshot(path=str(ARTIFACTS / "back-office-order-list.png"), full_page=True)

        page.click(f"text={review_reference}")
        page.wait_for_selector("#dfyorder_form")
        page.select_option("#id_catalogue_plan", label="DFY Starter (£99.00)")
        page.select_option("#id_status", "new")
        page.fill("#id_status_note", "Plan confirmed with the customer by phone.")
        page.screenshot(path=str(ARTIFACTS / "back-office-order-page.png"), full_page=True)
        page.click("input[name=_continue]")
        page.wait_for_selector("ul.messagelist")
        seen["saved"] = page.text_content("ul.messagelist")
        seen["timeline"] = page.text_content("body")

        page.goto(f"{base_url}/admin/orders/dfyorder/")
        page.check(f"input[name=_selected_action][value='{paid_pk}']")
        page.select_option("select[name=action]", "resend_onboarding_emails")
        page.click("button[name=index]")
        page.wait_for_selector("#resend-form")
        page.fill("#id_reason", REASON)
        page.click("#resend-form input[type=submit]")
        page.wait_for_selector("ul.messagelist")
        seen["resent"] = page.text_content("ul.messagelist")
        page.screenshot(path=str(ARTIFACTS / "back-office-all-orders.png"), full_page=True)

        page.check("#action-toggle")
        page.select_option("select[name=action]", "export_csv")
        with page.expect_download() as download_info:
            page.click("button[name=index]")
        download = download_info.value
        target = ARTIFACTS / "back-office-orders.csv"
        download.save_as(str(target))
        seen["csv"] = target.read_text(encoding="utf-8")
        seen["csv_name"] = download.suggested_filename
    return seen


def test_staff_work_an_order_in_chromium(transactional_db, staff_groups, webhook, resend_backend, gunicorn):
    webhook.post(checkout_event())
    webhook.post(checkout_event(session_id="cs_test_review", metadata={}, email="rae@example.com", name="Rae View"))
    paid = DFYOrder.objects.get(stripe_checkout_session_id="cs_test_A")
    review = DFYOrder.objects.get(stripe_checkout_session_id="cs_test_review")
    deliver_order.call(paid.pk)
    # Other orders, so the list looks as it does on a working day.
    now = timezone.now()
    make_orders(1, start=1, status=DFYOrder.Status.IN_PROGRESS, deadline=now - timedelta(hours=3), tier="PROFESSIONAL")
    make_orders(1, start=2, status=DFYOrder.Status.DELIVERED, final_package_link="https://files.example/p.zip")
    make_orders(1, start=3, currency="jpy", amount_total=50000, tier="PRO_MONTHLY", mode="subscription")
    staff = make_staff("oscar", "Operations", password=PASSWORD)
    server = gunicorn(workers=1)

    seen = work_the_back_office(server.base_url, review.reference, paid.pk)

    assert "Need review" in seen["dashboard"]
    assert review.reference in seen["review_list"]
    assert paid.reference not in seen["review_list"]
    assert "was changed successfully" in seen["saved"]
    assert "oscar changed the status from Needs review to New." in seen["timeline"]
    review.refresh_from_db()
    assert review.status == DFYOrder.Status.NEW
    assert review.tier == "STARTER"
    assert sorted(review.emails.values_list("template", flat=True)) == ["intake", "welcome"]

    assert f"Queued again: {paid.reference} (welcome, intake)." in seen["resent"]
    assert OutboxEmail.objects.get(order=paid, template="welcome").state == OutboxEmail.State.QUEUED
    request = paid.activities.get(kind="email.resend_requested")
    assert request.actor == staff
    assert request.data["reason"] == REASON

    rows = list(csv.DictReader(io.StringIO(seen["csv"])))
    assert seen["csv_name"].startswith("levqor-orders-")
    references = [row["reference"] for row in rows]
    assert len(references) == DFYOrder.objects.count() == 5
    assert paid.reference in references
    assert review.reference in references
    assert {row["amount"] for row in rows} == {"99.00", "50000"}
    for name in ("dashboard", "order-list", "order-page", "all-orders"):
        assert (ARTIFACTS / f"back-office-{name}.png").stat().st_size > 0
