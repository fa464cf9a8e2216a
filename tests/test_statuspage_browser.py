"""The status page in a real headless Chromium, with JavaScript on and off: the text is there, the
console is clean, a `<script>` someone typed stays text, and the page fits a phone's width."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from bot.statuspage.model import PublicDraft
from tests.fixtures_bot import BotUnderTest
from tests.test_lifecycle import declare

TITLE = '<script>document.title="owned"</script>Payments <b>degraded</b>'


def _read(chrome: Any, url: str, scripts: bool, width: int) -> dict[str, Any]:
    chrome.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": not scripts})
    chrome.set_window_size(width, 900)
    try:
        chrome.get(url)
        return {
            "title": chrome.title,
            "text": chrome.find_element(By.TAG_NAME, "body").text,
            "headings": [h.text for h in chrome.find_elements(By.CSS_SELECTOR, "h1, h2, h3")],
            "bold": len(chrome.find_elements(By.CSS_SELECTOR, "main b")),
            "overflow": chrome.execute_script(
                "return document.documentElement.scrollWidth > window.innerWidth"
            ) if scripts else False,
            "errors": [e["message"] for e in chrome.get_log("browser") if e["level"] == "SEVERE"],
        }  # fmt: skip
    finally:
        chrome.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
        chrome.set_window_size(1440, 1060)


@pytest.mark.browser
async def test_the_page_reads_in_chromium_with_and_without_javascript(chrome: Any, bot: BotUnderTest) -> None:
    incident = await declare(bot, "Checkout is down")
    draft = PublicDraft(
        "identified", TITLE, "Card payments fail for 5% of customers.", {"api": "major_outage"}
    )
    await bot.runtime.statuspage.post_trusted(incident.id, draft, "ops", "cli:browser")
    await bot.runtime.statuspage.add_maintenance(
        "Database upgrade", "Read-only for 10 minutes.", ["db"],
        bot.runtime.statuspage.now() + timedelta(days=1),
        bot.runtime.statuspage.now() + timedelta(days=1, hours=1),
        "ops", "cli", "m-browser",
    )  # fmt: skip
    for scripts, width in ((True, 1440), (False, 1440), (True, 390)):
        seen = await asyncio.to_thread(_read, chrome, f"{bot.url}/status", scripts, width)
        assert seen["errors"] == [], seen["errors"]
        assert seen["title"] == "Example Status"  # the typed script did not run
        assert TITLE in seen["text"] and seen["bold"] == 0  # shown as text, no markup
        assert "Major System Outage" in seen["text"] and "Major Outage" in seen["text"]
        assert "Card payments fail for 5% of customers." in seen["text"]
        assert "Database upgrade" in seen["text"] and "Scheduled maintenance" in seen["headings"]
        assert seen["headings"][:2] == ["Example Status", "Active incidents"]
        assert not seen["overflow"], f"wider than a {width}px screen"
    one = await asyncio.to_thread(_read, chrome, f"{bot.url}/status/incidents/{incident.id}", False, 390)
    assert one["errors"] == [] and TITLE in one["headings"][0] and "Identified" in one["text"]
