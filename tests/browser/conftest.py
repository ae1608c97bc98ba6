"""Playwright with Debian's Chromium (`apt-get install chromium`); Playwright's
own browser download is not used. Without Chromium the browser tests are
skipped, unless FERRY_REQUIRE_BROWSER is set (CI), where they fail."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage

CHROMIUM = Path(os.environ.get("FERRY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the test body still
# talks to the database synchronously, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("FERRY_REQUIRE_BROWSER"):
            pytest.fail(
                f"Chromium is required but {CHROMIUM} is missing (apt-get install chromium)"
            )
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def signed_in_page(page, live_server, owner):
    page.goto(f"{live_server.url}/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for()
    return page


# Chromium logs a Content-Security-Policy violation to the console itself; this reports
# each one again, by directive and blocked URL, in case a future Chromium stops doing so.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  console.error(`CSP violation: ${event.violatedDirective} blocked ${blocked}`);
});
"""


@pytest.fixture
def page_problems(page) -> list[str]:
    """What went wrong in ``page``'s browser, from now on: console errors (failed loads
    included), uncaught exceptions and Content-Security-Policy violations, each with the
    address of the page it happened on. Ask for it before the test's first navigation."""
    problems: list[str] = []
    page.add_init_script(script=_REPORT_CSP_VIOLATIONS)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            source = message.location.get("url") or "?"
            problems.append(f"{page.url}: console.error from {source}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: uncaught {error}"))
    return problems
