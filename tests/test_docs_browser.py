"""A person's path through /docs in a real browser: log in with Authorize, call an endpoint."""

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser.new_page()
        browser.close()


def test_docs_log_in_through_authorize_and_list_products(page, live_server, make_user, product):
    make_user(username="docs-reader", password="correct-horse-42")
    blocked = []
    page.on("request", lambda r: blocked.append(r.url) if "127.0.0.1" not in r.url else None)

    page.goto(f"{live_server}/docs")
    page.get_by_role("button", name="Authorize").first.click()
    page.fill("#oauth_username", "docs-reader")
    page.fill("#oauth_password", "correct-horse-42")
    oauth2 = page.locator(".auth-container").filter(has=page.locator("#oauth_username"))
    oauth2.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".auth-btn-wrapper button", has_text="Logout").wait_for()
    page.locator("button.btn-done").first.click()

    operation = page.locator("#operations-products-list_products")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert "Garden hose" in operation.locator(".live-responses-table").inner_text()
    assert blocked == [], f"the docs page fetched from outside: {blocked}"
