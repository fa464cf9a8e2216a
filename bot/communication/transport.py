"""Sending one e-mail over SMTP (aiosmtplib), and telling a temporary failure from a permanent one.

The URL says how to talk to the server: `smtps://` is TLS from the first byte (port 465); `smtp://` with
credentials or on port 587 upgrades with STARTTLS, which is then required (credentials never travel in
clear); other `smtp://` URLs (a local relay on port 25) talk plain SMTP.

Why the distinction between failures matters: a server that is down or answers 4xx is asked again later
by the outbox; a 5xx or a refused recipient will not change by asking again and is reported instead.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib

TIMEOUT_SECONDS = 20.0
PLAIN, STARTTLS, TLS = "plain", "starttls", "tls"


class MailConfigError(ValueError):
    """INCIDENTBOT_SMTP_URL or INCIDENTBOT_MAIL_FROM cannot be used; the message says why."""


@dataclass(frozen=True)
class MailFailure(Exception):
    """A send that did not go through. `temporary`: asking again later may work (server away, 4xx)."""

    error: str
    temporary: bool
    refused: tuple[str, ...] = ()
    """Recipients the server refused for good (the others, if any, got the mail)."""

    def __str__(self) -> str:
        return self.error


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str
    username: str | None = None
    password: str | None = None

    @property
    def shown(self) -> str:
        """Where mail goes, without the password (logs, `config check`)."""
        user = f"{self.username}@" if self.username else ""
        return f"{user}{self.host}:{self.port} ({self.security})"


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise MailConfigError(
            f"INCIDENTBOT_SMTP_URL must start with smtp:// or smtps:// (got {parts.scheme or 'no'} scheme)"
        )
    if not parts.hostname:
        raise MailConfigError("INCIDENTBOT_SMTP_URL has no host (smtp://user:pass@host:587)")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise MailConfigError(f"INCIDENTBOT_SMTP_URL has a bad port: {exc}") from exc
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if parts.scheme == "smtps":
        security = TLS
    elif username or port == 587:
        security = STARTTLS
    else:
        security = PLAIN
    return SmtpTarget(parts.hostname, port, security, username, password)


def check_sender(mail_from: str | None) -> str:
    if not mail_from or "@" not in mail_from:
        raise MailConfigError(
            "INCIDENTBOT_MAIL_FROM must be set to the sender address (incidents@example.com) to send e-mail"
        )
    return mail_from.strip()


def sender_domain(mail_from: str) -> str:
    """The domain Message-IDs are made in (RFC 5322 wants it to be ours)."""
    return mail_from.rpartition("@")[2].strip(" >") or "incidentbot.invalid"


class SmtpTransport:
    """One connection per mail: the bot sends a few mails an incident, and a fresh connection never
    inherits a half-broken session from a server that went away."""

    def __init__(self, target: SmtpTarget, ca_file: Path | None = None) -> None:
        self.target = target
        self.tls_context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if ca_file:
            self.tls_context.load_default_certs()

    def _options(self) -> dict[str, Any]:
        target = self.target
        return {
            "hostname": target.host,
            "port": target.port,
            "username": target.username,
            "password": target.password,
            "use_tls": target.security == TLS,
            "start_tls": target.security == STARTTLS,
            "tls_context": self.tls_context,
            "timeout": TIMEOUT_SECONDS,
        }

    async def send(self, message: EmailMessage) -> tuple[str, ...]:
        """Send; returns the recipients refused while others accepted it. Raises `MailFailure`."""
        try:
            errors, _ = await aiosmtplib.send(message, **self._options())
        except Exception as exc:
            raise _failure(exc, self.target) from exc
        return tuple(sorted(errors))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[SmtpConnection]:
        """One connection for many mails (the status page's subscribers: thousands of one-recipient mails,
        where a connection each would cost the relay a TLS handshake and a login per mail)."""
        client = aiosmtplib.SMTP(**self._options())
        try:
            await client.connect()
        except Exception as exc:
            raise _failure(exc, self.target) from exc
        try:
            yield SmtpConnection(client, self.target)
        finally:
            with contextlib.suppress(Exception):  # the server went away: nothing left to close politely
                await client.quit()


class SmtpConnection:
    def __init__(self, client: aiosmtplib.SMTP, target: SmtpTarget) -> None:
        self.client = client
        self.target = target

    async def send(self, message: EmailMessage) -> tuple[str, ...]:
        """Like `SmtpTransport.send`, on the open connection. A `MailFailure` with `connection_lost` means
        the connection is gone and the mails after this one need another."""
        return await self._refused(self.client.send_message(message))

    async def send_bytes(self, sender: str, recipients: list[str], message: bytes) -> tuple[str, ...]:
        """A message already serialised (`PersonalCopies`); failures as `send`."""
        return await self._refused(self.client.sendmail(sender, recipients, message))

    async def _refused(self, sending: Awaitable[tuple[dict[str, Any], str]]) -> tuple[str, ...]:
        """The recipients the server refused; a failure as `MailFailure`, or `ConnectionLost` when the
        connection went with it."""
        try:
            errors, _ = await sending
        except Exception as exc:
            failure = _failure(exc, self.target)
            if not self.client.is_connected:
                raise ConnectionLost(failure.error, True, failure.refused) from exc
            raise failure from exc
        return tuple(sorted(errors))


class ConnectionLost(MailFailure):
    """The connection broke while sending: this mail and the rest of the batch go on another one."""


def _failure(exc: Exception, target: SmtpTarget) -> MailFailure:
    """Temporary (4xx, server away) or permanent (5xx, refused for good), worded for the channel and logs."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = tuple(r.recipient for r in exc.recipients)
        temporary = all(400 <= r.code < 500 for r in exc.recipients)
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return MailFailure(f"every recipient refused ({detail})", temporary, refused)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        temporary = 400 <= exc.code < 500
        return MailFailure(f"the server answered {exc.code} {exc.message}", temporary)
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return MailFailure(f"{type(exc).__name__}: {exc} ({target.shown})", temporary=True)
    raise exc
