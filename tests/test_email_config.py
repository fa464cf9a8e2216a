"""The `communication:` section and the e-mail transport's settings: what a typo or a missing piece says,
and the SMTP URL's three ways of talking to a server (one of them, implicit TLS, tried for real)."""

from __future__ import annotations

import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.communication.transport import (
    PLAIN,
    STARTTLS,
    TLS,
    MailConfigError,
    MailFailure,
    SmtpTransport,
    parse_smtp_url,
)
from bot.config import ConfigError, Settings, load_config
from bot.config.checks import communication_problems, mail_warnings
from tests.fixtures_smtp import Authority, SmtpServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "incidentbot.yml"
INCIDENTBOT = str(Path(sys.executable).parent / "incidentbot")


def test_the_shipped_matrix_is_the_seeds() -> None:
    audiences = load_config(EXAMPLE).communication.audiences
    assert list(audiences) == ["engineering", "management", "users", "enterprise"]
    management = audiences["management"]
    assert management.email == ["cto@example.com", "vp-eng@example.com"] and management.automatic
    assert {s: int(d.total_seconds() // 60) for s, d in management.first.items()} == {
        "SEV1": 15,
        "SEV2": 30,
        "SEV3": 24 * 60,
    }
    assert audiences["enterprise"].call_list[0].name == "Acme Corp"
    assert audiences["users"].owner == "customer_liaison" and audiences["users"].status_page
    assert communication_problems(load_config(EXAMPLE)) == []


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("management: {first: {SEV9: 15m}}", "management.first: unknown severity 'SEV9'"),
        ("management: {first: {SEV1: soon}}", "'soon' is not a duration such as 30s, 5m, 1h, 7d"),
        ("management: {email: [not-an-address]}", "not an e-mail address: 'not-an-address'"),
        ("users: {owner: liaison}", "users.owner: unknown role 'liaison'"),
        ("management: {emails: [a@b.c]}", "Extra inputs are not permitted"),
    ],
)
def test_a_wrong_audience_says_what_is_wrong(tmp_path: Path, section: str, expected: str) -> None:
    path = tmp_path / "incidentbot.yml"
    path.write_text(f"communication:\n  audiences:\n    {section}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value)


def test_config_check_fails_on_a_missing_template_and_warns_without_smtp(tmp_path: Path) -> None:
    path = tmp_path / "incidentbot.yml"
    path.write_text(
        "communication:\n  audiences:\n"
        "    management: {slack_channel: C0MGMT0000, email: [cto@example.com], template: board_mail,"
        " first: {SEV1: 15m}, automatic: true}\n",
        encoding="utf-8",
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = [INCIDENTBOT, "config", "check", "--config", str(path)]
    done = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "communication.audiences.management.template: template board_mail.txt.j2 not found" in done.stderr
    assert "board_mail.md.j2 not found" in done.stderr and "board_mail.html.j2 not found" in done.stderr
    assert "warning: communication: INCIDENTBOT_SMTP_URL is not set: the e-mail of management" in done.stderr


def test_mail_warnings_name_the_setting_that_is_wrong() -> None:
    config = load_config(EXAMPLE)
    unset = Settings(_env_file=None)
    assert "INCIDENTBOT_SMTP_URL is not set" in mail_warnings(unset, config)[0]
    no_sender = Settings(_env_file=None, smtp_url="smtp://relay:25")
    assert "INCIDENTBOT_MAIL_FROM must be set" in mail_warnings(no_sender, config)[0]
    fine = Settings(_env_file=None, smtp_url="smtp://relay:25", mail_from="incidents@example.com")
    assert mail_warnings(fine, config) == []


@pytest.mark.parametrize(
    ("url", "security", "port", "user", "password"),
    [
        ("smtp://user:p%40ss@mail.example.com:587", STARTTLS, 587, "user", "p@ss"),
        ("smtp://mail.example.com:587", STARTTLS, 587, None, None),
        ("smtps://user:pass@mail.example.com:465", TLS, 465, "user", "pass"),
        ("smtps://mail.example.com", TLS, 465, None, None),
        ("smtp://localhost:25", PLAIN, 25, None, None),
        ("smtp://localhost", PLAIN, 25, None, None),
    ],
)
def test_the_url_says_how_to_talk_to_the_server(
    url: str, security: str, port: int, user: str | None, password: str | None
) -> None:
    target = parse_smtp_url(url)
    assert (target.security, target.port, target.username, target.password) == (
        security,
        port,
        user,
        password,
    )
    assert "pass" not in target.shown or password is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://mail.example.com", "must start with smtp:// or smtps://"),
        ("smtp://", "has no host"),
        ("smtp://mail.example.com:99999", "bad port"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(url: str, expected: str) -> None:
    with pytest.raises(MailConfigError, match=expected):
        parse_smtp_url(url)


def _message(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "incidents@example.com", to, "[SEV1] INC-1: test"
    message.set_content("hello")
    return message


async def test_smtps_is_tls_from_the_first_byte(mail_authority: Authority) -> None:
    server = SmtpServer(implicit_tls=mail_authority.server_context())
    server.start()
    try:
        transport = SmtpTransport(parse_smtp_url(server.url("smtps")), mail_authority.ca_file)
        assert await transport.send(_message("cto@example.com")) == ()
        [received] = server.received
        assert received.recipients == ["cto@example.com"]
    finally:
        server.stop()


async def test_failures_are_told_apart_temporary_from_permanent(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(parse_smtp_url(smtp_server.url()))
    smtp_server.handler.refuse = {"busy@example.com": "451 4.3.0 try again later"}
    with pytest.raises(MailFailure) as busy:
        await transport.send(_message("busy@example.com"))
    assert busy.value.temporary and "451" in busy.value.error
    smtp_server.handler.refuse = {"gone@example.com": "550 5.1.1 no such user"}
    with pytest.raises(MailFailure) as gone:
        await transport.send(_message("gone@example.com"))
    assert not gone.value.temporary and gone.value.refused == ("gone@example.com",)
    smtp_server.stop()
    with pytest.raises(MailFailure) as away:
        await transport.send(_message("cto@example.com"))
    assert away.value.temporary
