"""Starting the bot as an operator does, in a subprocess: a missing or empty config, a database that cannot
be opened, and `make run` without Slack tokens — each answered with one clear message and an exit code."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures_bot import EXAMPLE_CONFIG, ROOT
from tests.processes import free_port, refusing_port

LAUNCH = "import sys; from bot.cli import main; sys.argv[0] = 'incidentbot'; main()"
TOKENS = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret"}


def environment(**values: str) -> dict[str, str]:
    """A clean environment: nothing of the developer's own (.env is read from the working directory)."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(ROOT), **values}


def incidentbot(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=cwd,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("case", ["missing", "empty", "comments only", "default path missing"])
def test_a_missing_or_empty_config_stops_production(tmp_path: Path, case: str) -> None:
    config = tmp_path / ("incidentbot.yml" if case == "default path missing" else "prod.yml")
    if case == "empty":
        config.write_text("", encoding="utf-8")
    elif case == "comments only":
        config.write_text("# severities: come later\n\n", encoding="utf-8")
    env = {**TOKENS, "INCIDENTBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}
    if case != "default path missing":
        env["INCIDENTBOT_CONFIG"] = str(config)
    shown = "incidentbot.yml" if case == "default path missing" else str(config)
    problem = "is empty" if case in ("empty", "comments only") else "does not exist"
    for args in (["serve"], ["config", "check"]):
        result = incidentbot(args, tmp_path, **env)
        assert result.returncode == 2, (args, result.stderr)
        [line] = lines(result.stderr)
        assert shown in line and problem in line and "INCIDENTBOT_CONFIG" in line, line
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "bot.db").exists()  # stopped before it touched the database


def test_config_check_of_the_example_still_passes(tmp_path: Path) -> None:
    result = incidentbot(["config", "check"], tmp_path, INCIDENTBOT_CONFIG=str(EXAMPLE_CONFIG))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"config ok: {EXAMPLE_CONFIG}: 4 severities")


@pytest.mark.parametrize("fault", ["damaged SQLite file", "PostgreSQL unreachable"])
def test_a_database_fault_at_start_is_one_line(tmp_path: Path, fault: str) -> None:
    with refusing_port() as port:
        if fault == "damaged SQLite file":
            damaged = tmp_path / "incidents.db"
            damaged.write_bytes(b"this is not a database, just some bytes " * 200)
            url, shown, todo = f"sqlite:///{damaged}", str(damaged), "move it away"
        else:
            url = f"postgresql://ops:hunter2@127.0.0.1:{port}/incidents"
            shown, todo = f"postgresql://ops:***@127.0.0.1:{port}/incidents", "database is up"
        env = {**TOKENS, "INCIDENTBOT_CONFIG": str(EXAMPLE_CONFIG), "INCIDENTBOT_DATABASE_URL": url}
        for args in (["serve"], ["serve", "--migrate"], ["db", "upgrade"], ["db", "current"]):
            result = incidentbot(args, tmp_path, **env)
            assert result.returncode == 1, (args, result.stderr)
            [line] = lines(result.stderr)
            assert line.startswith("error: cannot open the database at "), line
            assert shown in line and todo in line and "`incidentbot db upgrade`" in line, line
            assert "hunter2" not in line and "Traceback" not in result.stderr


def _make_run_commands() -> list[list[str]]:
    """The incidentbot command lines of the Makefile's `run` recipe, as `make run` runs them."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None
    commands = []
    for line in recipe.group(1).splitlines():
        words = line.split()
        if "$(BIN)/incidentbot" in words:
            commands.append(words[words.index("$(BIN)/incidentbot") + 1 :])
    return commands


def test_make_run_without_tokens_touches_no_database_and_shows_no_alembic_lines(tmp_path: Path) -> None:
    commands = _make_run_commands()
    assert commands and commands[-1][0] == "serve"
    port = free_port()
    env = environment(INCIDENTBOT_PORT=str(port))
    output: list[str] = []
    for args in commands[:-1]:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCH, *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        output += [done.stdout, done.stderr]
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *commands[-1]],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while not any(line.startswith("Sandbox: ") for line in seen):
            assert time.monotonic() < deadline and process.poll() is None, seen
            seen.append(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    output += [*seen, stdout, stderr]
    assert process.returncode == 0, stderr
    assert list(tmp_path.iterdir()) == []  # no ./incidentbot.db, nothing else either
    text = "".join(output)
    assert "alembic" not in text and "Running upgrade" not in text and "Context impl" not in text
