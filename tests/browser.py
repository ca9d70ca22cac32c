"""Debian's Chromium driven by Playwright, for tests that use a page as a person would."""

import os
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@contextmanager
def chromium_page(viewport=None):
    """Yield a new page in a headless Chromium; the browser is closed afterwards.

    Playwright's sync API runs an event loop in this thread, and Django refuses
    database calls from such a thread, so a test touches the database only
    outside this block.
    """
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)."
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=viewport or {"width": 1400, "height": 900}, accept_downloads=True)
            yield context.new_page()
        finally:
            browser.close()
