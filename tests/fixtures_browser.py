"""A real headless Chromium (Debian's `chromium` + `chromium-driver`, via Selenium) and a sandbox for it.

The browser is synchronous, the sandbox asynchronous: the sandbox runs on its own event loop in a
thread, and the test reads its workspace or database through `ThreadedSandbox.call`, on that loop.

Without Chromium the browser tests skip, loudly (again in the terminal summary);
INCIDENTBOT_TEST_REQUIRE_BROWSER=1 makes that a failure instead. `make test` installs it
(scripts/install-test-deps.sh).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import warnings
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.config import Settings
from bot.sandbox.run import RunningSandbox, start_sandbox

T = TypeVar("T")
CHROMIUM = Path(os.environ.get("INCIDENTBOT_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("INCIDENTBOT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
REQUIRE_BROWSER = os.environ.get("INCIDENTBOT_TEST_REQUIRE_BROWSER", "").lower() in {"1", "true", "yes"}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1440,1060",
    "--lang=en-US",
)
_missing: list[str] = []


def browser_missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the Python package selenium is not installed (pip install -e '.[test]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists() and shutil.which(path.name) is None:
            return f"{path} is missing: install Debian's {package} (scripts/install-test-deps.sh does)"
    return None


@pytest.fixture
def chrome(chromium: Any) -> Iterator[Any]:
    """The module's Chromium on a blank page with the console log of earlier tests drained: a test sees
    its own errors only, in whatever order the tests run (an earlier test's page would go on polling a
    sandbox that has stopped)."""
    chromium.get("about:blank")
    chromium.get_log("browser")
    try:
        yield chromium
    finally:
        chromium.get("about:blank")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the module's browser tests; it downloads nothing."""
    reason = browser_missing()
    if reason is not None:
        message = f"BROWSER TESTS SKIPPED: {reason}"
        if REQUIRE_BROWSER:
            pytest.fail(message + " (INCIDENTBOT_TEST_REQUIRE_BROWSER is set)")
        _missing.append(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which(CHROMIUM.name))
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = str(CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which(CHROMEDRIVER.name))
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class ThreadedSandbox:
    """A sandbox serving from a background thread's event loop, for synchronous browser tests."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sandbox", daemon=True)
        self.thread.start()
        try:
            self.sandbox: RunningSandbox = self.call(start_sandbox(settings, port=0, **options))
        except BaseException:
            self._stop()
            raise

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def read(self, function: Callable[[], T]) -> T:
        """Run `function` on the sandbox's loop, so it never sees the workspace half-changed."""

        async def run() -> T:
            return function()

        return self.call(run())

    def _stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def close(self) -> None:
        try:
            self.call(self.sandbox.close())
        finally:
            self._stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A skipped browser test is easy to miss in a green run; say it where people look."""
    if _missing:
        terminalreporter.write_sep("!", "browser tests SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_missing[0], red=True)
