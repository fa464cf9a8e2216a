"""An outage of a dependency is one WARNING when it starts and one when it ends, however often the
background probe asks in between (DESIGN: errors are logged with context, not a line a second)."""

from __future__ import annotations

import logging

import pytest

from bot.server.health import BackgroundProbe
from bot.standin import eventually


async def test_an_outage_is_two_log_lines_not_one_per_probe(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter([None, "refused", "refused", "refused", "refused", None, None, "timeout"])
    asked = 0

    async def check() -> str | None:
        nonlocal asked
        asked += 1
        return next(answers, "timeout")  # and it stays away

    probe = BackgroundProbe("Prometheus", check, every=0.01)
    with caplog.at_level(logging.WARNING, logger="bot.server.health"):
        probe.start()
        await eventually(lambda: asked >= 9, message="the probe asked nine times")
        await probe.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.server.health"]
    assert lines == [
        "Prometheus is not answering: refused",
        "Prometheus answers again",
        "Prometheus is not answering: timeout",
    ]
