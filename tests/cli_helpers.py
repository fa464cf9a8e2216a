"""Running `incidentbot` in-process against a test database and a config written for the test."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import run


def config_env(text: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write `text` as the config and point INCIDENTBOT_CONFIG / _DATABASE_URL at it and the database."""
    config = tmp_path / "incidentbot.yml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(config))
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", database_url)
    return config


async def cli(*argv: str) -> int:
    """The CLI in a thread: it runs its own event loop."""
    return await asyncio.to_thread(run, list(argv))
