"""The config file's `drills:` section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from bot.settings import Strict

BANNER = "DRILL — not a real incident"


class ScheduledDrill(Strict):
    """A game day: a reminder with a Start button, posted to `channel` at `at` (the config's zone)."""

    scenario: str
    every: Literal["weekly", "monthly", "quarterly"]
    day: int = Field(1, ge=1, le=28)
    """Day of the month (monthly, quarterly: of the quarter's first month), or weekday 1–7 (weekly)."""
    at: str = "10:00"
    channel: str
    participants: list[str] = []

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"{value!r}: a time of day as HH:MM")
        return value


class DrillsConfig(Strict):
    directory: Path = Path("drills")
    """Scenario files, relative to the config file."""
    schedule: list[ScheduledDrill] = []
    skipped_after_days: int = Field(7, ge=1, le=90)
    """A scheduled drill not started within this many days of its reminder counts as skipped."""
