"""A customer fills the intake form in Chromium, against gunicorn on 127.0.0.1."""

import os
from pathlib import Path

from django.conf import settings

from onboarding.intake_links import intake_url
from orders.models import DFYOrder
from tests.conftest import checkout_event

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def fill_intake_form(url):
    """Fill and send the form at url in Chromium; return the confirmation page's text.

    Playwright's sync API runs an event loop in this thread, and Django refuses
    database calls from such a thread, so the test touches the database only
    before and after this function.
    """
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)."
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.get_by_label("What should we automate?").fill("Copy each new Stripe payment into our Google Sheet.")
            page.get_by_label("Which tools and accounts are involved?").fill("Stripe, Google Sheets")
            page.get_by_label("How often does it run").fill("On every payment; email me on failure.")
            page.screenshot(path=str(ARTIFACTS / "intake-form.png"), full_page=True)
            page.get_by_role("button", name="Send my answers").click()
            page.wait_for_selector("text=your answers are in")
            page.screenshot(path=str(ARTIFACTS / "intake-received.png"), full_page=True)
            return page.text_content("body")
        finally:
            browser.close()


def test_customer_fills_the_intake_form(transactional_db, webhook, gunicorn):
    webhook.post(checkout_event(name="Siobhán O'Brien"))
    order = DFYOrder.objects.get()
    server = gunicorn(workers=1)
    url = intake_url(order).replace(settings.PUBLIC_BASE_URL, server.base_url)

    confirmation = fill_intake_form(url)

    assert order.reference in confirmation
    order.refresh_from_db()
    assert order.status == DFYOrder.Status.INTAKE_RECEIVED
    assert order.intake_answers["tools"] == "Stripe, Google Sheets"
    assert order.intake_answers["constraints"] == ""
    assert (ARTIFACTS / "intake-received.png").stat().st_size > 0
