"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Every module here sets `pytestmark = pytest.mark.e2e`. A missing browser is an error, never a
skip: `make test` installs it first.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ALL_IMPACTS = ("minor", "moderate", "serious", "critical")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make system-deps` (apt-get install chromium)."
        )
    # Playwright's sync API keeps an event loop running in this thread from here on; the
    # tests' own ORM calls stay synchronous, so Django's guard against async misuse must stand
    # aside. `make test` runs the browser tests in a pytest run of their own for this reason.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open pages in fresh browser contexts (one per user), closed after the test."""
    contexts = []

    def open_page():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1400, "height": 900}, accept_downloads=True
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def login(page, user, password="pw-for-tests-1"):
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def accessibility_problems(page, selector="html", impacts=("serious", "critical")) -> list:
    """The WCAG 2 A and AA violations axe-core finds in `selector` (the whole page by default)
    of the given impacts, as (rule, impact, [targets])."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        "s => axe.run(document.querySelector(s), {runOnly: ['wcag2a', 'wcag2aa']})", selector
    )
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in impacts
    ]
