"""The command line a newcomer meets: help without arguments, a version, no stray database files, and an
exit code that says when there was nothing to do. Run as a user runs it: the console script, in a folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

INCIDENTBOT = str(Path(sys.executable).parent / "incidentbot")


def incidentbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([INCIDENTBOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "fresh"
    folder.mkdir()
    return folder


def test_bare_command_shows_help_and_version_is_printed(empty: Path) -> None:
    bare = incidentbot(cwd=empty)
    assert bare.returncode == 0 and bare.stdout.startswith("usage: incidentbot") and "serve" in bare.stdout
    version = incidentbot("--version", cwd=empty)
    assert version.returncode == 0 and version.stdout.startswith("incidentbot 0.")


def test_read_only_commands_never_create_a_database(empty: Path) -> None:
    (empty / "incidentbot.yml").write_text("timezone: Europe/Berlin\n", encoding="utf-8")
    for args in (("report",), ("postmortem", "show", "INC-1")):
        done = incidentbot(*args, cwd=empty)
        assert done.returncode == 2, (args, done.stderr)
        assert "no database at incidentbot.db" in done.stderr and "incidentbot db upgrade" in done.stderr
    assert [p.name for p in empty.iterdir()] == ["incidentbot.yml"]


def test_every_command_finds_the_config_the_same_way_and_refuses_without_one(empty: Path) -> None:
    for args in (("report",), ("slo", "rules"), ("runbook", "validate"), ("postmortem", "show", "1")):
        done = incidentbot(*args, cwd=empty)
        assert done.returncode == 2, args
        assert "the config file incidentbot.yml does not exist" in done.stderr, (args, done.stderr)
    (empty / "incidentbot.yml").write_text("slos: []\n", encoding="utf-8")  # ./incidentbot.yml is found
    assert incidentbot("slo", "rules", cwd=empty).returncode == 0


def test_runbook_validate_with_nothing_to_validate_is_a_usage_error(empty: Path) -> None:
    (empty / "incidentbot.yml").write_text("timezone: UTC\n", encoding="utf-8")
    done = incidentbot("runbook", "validate", cwd=empty)
    assert done.returncode == 2
    assert (
        "nothing to validate: runbooks (runbooks.directory in the config) is not a directory" in done.stderr
    )
    (empty / "books").mkdir()
    assert incidentbot("runbook", "validate", "books", cwd=empty).returncode == 0


def test_config_check_warns_about_a_policy_that_ends_on_a_page(empty: Path) -> None:
    (empty / "incidentbot.yml").write_text(
        "oncall:\n  escalation:\n    SEV3:\n      - notify: {users: [U0BOB00000]}\n", encoding="utf-8"
    )
    done = incidentbot("config", "check", "--config", "incidentbot.yml", cwd=empty)
    assert done.returncode == 0, done.stderr  # a warning, not a failure
    assert (
        "warning: oncall.escalation.SEV3 ends on a page: those paged last get SEV3's response target (1 h)"
        in (done.stderr)
    )
    example = Path(__file__).resolve().parent.parent / "examples" / "incidentbot.yml"
    assert "ends on a page" not in incidentbot("config", "check", "--config", str(example), cwd=empty).stderr


def test_help_and_version_load_nothing_heavy(empty: Path) -> None:
    probe = (
        "import sys; from bot.cli.main import build_parser; build_parser().format_help(); "
        "heavy = ('pydantic', 'sqlalchemy', 'slack_bolt', 'aiohttp', 'jinja2'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_every_command_that_reads_takes_config_and_database_url(empty: Path) -> None:
    (empty / "incidentbot.yml").write_text("timezone: UTC\n", encoding="utf-8")
    done = incidentbot("report", "--database-url", "sqlite:///elsewhere.db", cwd=empty)
    assert done.returncode == 2 and "no database at elsewhere.db" in done.stderr
    done = incidentbot("postmortem", "show", "1", "--database-url", "sqlite:///other.db", cwd=empty)
    assert done.returncode == 2 and "no database at other.db" in done.stderr
    (empty / "team.yml").write_text("slos: []\n", encoding="utf-8")
    (empty / "books").mkdir()
    for args in (("slo", "rules"), ("runbook", "validate", "books"), ("config", "check")):
        assert incidentbot(*args, "--config", "team.yml", cwd=empty).returncode == 0, args
    missing = incidentbot("slo", "rules", "--config", "nope.yml", cwd=empty)
    assert missing.returncode == 2 and "nope.yml" in missing.stderr
    serve_help = incidentbot("serve", "--help", cwd=empty).stdout
    for setting in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "Socket Mode",
                    "INCIDENTBOT_PORT", "INCIDENTBOT_DATABASE_URL", "INCIDENTBOT_CONFIG"):  # fmt: skip
        assert setting in serve_help, setting


def test_report_formats_are_the_renderers() -> None:
    from bot.cli.parsers import REPORT_FORMATS
    from bot.postmortem.report import RENDERERS

    assert sorted(REPORT_FORMATS) == sorted(RENDERERS)
