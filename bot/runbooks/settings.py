"""The config file's `runbooks:` section.

In a module of its own, importing nothing but `bot.settings`, so `bot/config/app.py` can import it for
`AppConfig.runbooks` however the imports are ordered. `bot.runbooks.model` re-exports it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.settings import Strict


class RunbooksConfig(Strict):
    directory: Path = Path("runbooks")
    """Runbook YAML files (searched recursively), relative to the config file. Missing: no runbooks."""
    secret_env: list[str] = []
    """Environment variable names whose VALUES are redacted from step output (and the only credential-like
    names a step may pass through with env_passthrough)."""
    max_output_bytes: int = Field(1_000_000, ge=1024, le=50_000_000)
    """Output kept per run (first half and last half); the rest is counted and dropped."""
    review_max_age_days: int = Field(180, ge=1)
    """`incidentbot runbook validate` warns about runbooks reviewed longer ago than this."""
