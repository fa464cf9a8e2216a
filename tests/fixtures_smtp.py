"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the e-mail tests: plain, or STARTTLS with a certificate
from a throwaway CA (trustme) and AUTH LOGIN/PLAIN. It records what it accepted, can refuse recipients
(5xx or 4xx) and can be stopped and started again on the same port ("the relay is down for a while")."""

from __future__ import annotations

import email
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "incidentbot", "s3cret:with/odd@chars"
MAIL_FROM = "incidents@example.com"


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    user: str | None

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    """Recipient → the answer to its RCPT (e.g. "550 5.1.1 no such user")."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, user))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.recipients]


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """One aiosmtpd server in its own thread; `stop()` and `start()` keep its port."""

    def __init__(self, starttls: ssl.SSLContext | None = None, implicit_tls: ssl.SSLContext | None = None):
        self.handler = Handler()
        self.port = free_port()
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.controller: Controller | None = None

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self.starttls is not None:
            options = {
                "tls_context": self.starttls,
                "require_starttls": True,
                "auth_required": True,
                "authenticator": _authenticate,
            }
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=self.implicit_tls,
            server_hostname="127.0.0.1",
            **options,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def url(self, scheme: str = "smtp", credentials: bool = False) -> str:
        login = f"{USER}:{PASSWORD.replace('/', '%2F').replace('@', '%40').replace(':', '%3A')}@"
        return f"{scheme}://{login if credentials else ''}127.0.0.1:{self.port}"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server, as a local relay on port 25 would be."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Authority:
    ca: trustme.CA
    ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context


@pytest.fixture(scope="session")
def mail_authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """A CA made for this test session; the bot trusts it through INCIDENTBOT_SMTP_CA_FILE."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return Authority(ca, path)


@pytest.fixture
def tls_smtp_server(mail_authority: Authority) -> Iterator[SmtpServer]:
    """STARTTLS required, then AUTH LOGIN/PLAIN required, as a submission server on 587 is."""
    server = SmtpServer(starttls=mail_authority.server_context())
    server.start()
    try:
        yield server
    finally:
        server.stop()
