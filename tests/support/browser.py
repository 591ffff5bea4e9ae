"""A real browser for page tests (a pytest plugin, registered in tests/conftest.py): Debian's Chromium
driven by Playwright, one per test module."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

CHROMIUM = os.environ.get("HELHET_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium: fail loudly (never skip) when it is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium")
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


def watch(page: Page) -> list[str]:
    """What the page got wrong, as the browser reports it: script errors and policy violations."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems
