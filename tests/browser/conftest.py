"""A real browser for the browser tests: Debian's Chromium (apt-get install -y chromium) driven by
Playwright's Python package (the test extra pins it). `playwright install` is never used: it
downloads browsers, which this machine cannot. A missing Chromium or Playwright fails the tests
with the command that installs it; they never skip (CI installs both).

Fixtures: `browser` (one Chromium per test module), `page` (a fresh context per test, so no cookie,
storage or script state leaks between tests), `console_errors` (the page's console errors and
uncaught exceptions, collected from the moment it is requested) and `artifacts` (tests/artifacts,
where screenshots go)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 15_000


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("the browser tests need Chromium on the PATH: apt-get install -y chromium", pytrace=False)
    return path


# Module scope, not session: Playwright's sync API runs an event loop in the main thread for as
# long as it is open, and a later test that calls asyncio.run() would then fail.
@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright's Python package: pip install -e '.[test]' "
                    "(or pip install playwright==1.65.2); do not run `playwright install`, the tests use "
                    "Debian's chromium", pytrace=False)
    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def console_errors(page) -> list[str]:
    """Console errors and uncaught exceptions of `page` (a CSP violation shows here too)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
