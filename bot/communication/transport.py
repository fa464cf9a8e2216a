"""Sending one e-mail over SMTP (aiosmtplib), and telling a temporary failure from a permanent one.

The URL says how to talk to the server: `smtps://` is TLS from the first byte (port 465); `smtp://` with
credentials or on port 587 upgrades with STARTTLS, which is then required (credentials never travel in
clear); other `smtp://` URLs (a local relay on port 25) talk plain SMTP.

Why the distinction between failures matters: a server that is down or answers 4xx is asked again later
by the outbox; a 5xx or a refused recipient will not change by asking again and is reported instead.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
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

    async def send(self, message: EmailMessage) -> tuple[str, ...]:
        """Send; returns the recipients refused while others accepted it. Raises `MailFailure`."""
        target = self.target
        try:
            errors, _ = await aiosmtplib.send(
                message,
                hostname=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.security == TLS,
                start_tls=target.security == STARTTLS,
                tls_context=self.tls_context,
                timeout=TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = tuple(r.recipient for r in exc.recipients)
            temporary = all(400 <= r.code < 500 for r in exc.recipients)
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            raise MailFailure(f"every recipient refused ({detail})", temporary, refused) from exc
        except aiosmtplib.SMTPResponseException as exc:
            temporary = 400 <= exc.code < 500
            raise MailFailure(f"the server answered {exc.code} {exc.message}", temporary) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailFailure(f"{type(exc).__name__}: {exc} ({target.shown})", temporary=True) from exc
        return tuple(sorted(errors))
