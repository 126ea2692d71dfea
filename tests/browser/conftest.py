"""Playwright on Debian's Chromium against the live stack (tests/fixtures/live_server.py).

Playwright's own browser download cannot work here, so it launches
/usr/bin/chromium (`make test` installs it when missing). On a failure every
page the test opened is saved as a screenshot under test-artifacts/, next to
the pages the journey recorded with `shots.take(...)` on its way.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    sync_playwright,
)

from tests.fixtures.live_server import LiveStack

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 10_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(item: pytest.Item) -> bool:
    return any(
        getattr(getattr(item, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


@dataclass
class Screenshots:
    """Pages a journey passed through, saved only when the test fails."""

    name: str
    taken: list[tuple[str, bytes]] = field(default_factory=list)

    def take(self, page: Page, label: str) -> None:
        self.taken.append((label, page.screenshot(full_page=True)))

    def save(self, pages: list[Page]) -> Path:
        folder = ARTIFACTS / self.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for number, (label, png) in enumerate(self.taken, start=1):
            (folder / f"{number:02d}-{label}.png").write_bytes(png)
        for number, page in enumerate(pages, start=1):
            if page.is_closed():
                continue
            try:
                page.screenshot(path=folder / f"last-page-{number}.png", full_page=True)
                (folder / f"last-page-{number}.url.txt").write_text(page.url)
            except Exception as exc:  # a crashed page must not hide the real failure
                (folder / f"last-page-{number}.error.txt").write_text(repr(exc))
        return folder


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    """Package-scoped: Playwright's sync API keeps an event loop running in the
    main thread while it lives, which would break every later test that calls
    `asyncio.run`; it stops once the browser journeys are done."""
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; one for the browser journeys."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)"
        )
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    """Record main pages with `shots.take(page, "orgs")`; written to test-artifacts/ on failure."""
    return Screenshots(re.sub(r"[^\w.-]+", "_", request.node.nodeid))


@pytest.fixture
def new_context(
    request: pytest.FixtureRequest,
    browser: Browser,
    live_stack: LiveStack,
    shots: Screenshots,
) -> Iterator[Any]:
    """Open a fresh browser profile (its own cookies) at the app; one per person in a journey."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(base_url=live_stack.app_url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    if _failed(request.node):
        pages = [page for context in contexts for page in context.pages]
        folder = shots.save(pages)
        print(f"screenshots of the failed journey: {folder}")  # noqa: T201
    for context in contexts:
        context.close()


@pytest.fixture
def staff_page(new_context: Any) -> Page:
    """A page in a fresh profile, not signed in yet."""
    context: BrowserContext = new_context()
    return context.new_page()
