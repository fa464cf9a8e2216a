"""E-mails and Slack notices rendered from the audience's templates, and the e-mail message built from them.

An audience's `template: NAME` is three files in `templates/` (each overridable in `templates_dir`):
`NAME.md.j2` (Slack mrkdwn), `NAME.txt.j2` and `NAME.html.j2` (the two parts of a multipart e-mail). The
HTML environment escapes every value (autoescape), so a title with `<script>` arrives as text.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

import jinja2

from bot.communication.notices import DECLARED, FINAL, Notice
from bot.communication.settings import STATUS_PAGE_TEMPLATE, Audience, CommunicationConfig
from bot.domain import Incident
from bot.formatting import human_duration, status_label
from bot.settings import IncidentSettings
from bot.templating import Templates, bundled_templates_dir, format_local, severity_label

SLACK, TEXT, HTML = "md", "txt", "html"
UNFOLDED = SMTP.clone(max_line_length=998)
"""Header lines up to RFC 5322's hard limit: folding a subject before an encoded word leaves two spaces
in it once unfolded (Python's folder keeps the space and adds the fold's)."""


class MailTemplates:
    """The text and HTML environments of e-mails (Slack notices use the bot's `Templates`)."""

    def __init__(self, config: IncidentSettings) -> None:
        self.config = config
        self.slack = Templates(config)
        directories = [d for d in (config.templates_dir, bundled_templates_dir()) if d is not None]
        loader = jinja2.FileSystemLoader([str(d) for d in directories])
        self.text = self._environment(loader, autoescape=False)
        self.html = self._environment(loader, autoescape=True)

    def _environment(self, loader: jinja2.BaseLoader, autoescape: bool) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            autoescape=autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            localtime=lambda dt, fmt="%Y-%m-%d %H:%M %Z": format_local(dt, self.config, fmt),
            duration=human_duration,
            status_label=status_label,
            severity_label=lambda sev: severity_label(sev, self.config),
            minutes=lambda n: timedelta(minutes=int(n)),
        )
        return env

    def context(self, name: str, notice: Notice) -> dict[str, Any]:
        return {
            "notice": notice,
            "incident": notice.incident,
            "audience": name,
            "config": self.config,
            "now": notice.now,
            "severity": self.config.severity(notice.incident.severity),
        }

    def slack_text(self, name: str, audience: Audience, notice: Notice) -> str:
        return self.slack.render(f"{audience.template}.{SLACK}.j2", **self.context(name, notice))

    def email_parts(self, name: str, audience: Audience, notice: Notice) -> tuple[str, str]:
        context = self.context(name, notice)
        text = self.text.get_template(f"{audience.template}.{TEXT}.j2").render(**context)
        html = self.html.get_template(f"{audience.template}.{HTML}.j2").render(**context)
        return text.strip() + "\n", html

    def problems(self, section: CommunicationConfig) -> list[str]:
        """Each audience's templates exist for the ways it is told, and render with a sample incident."""
        found: list[str] = []
        for name, audience in section.audiences.items():
            if audience.template == STATUS_PAGE_TEMPLATE:
                continue  # the status page's own per-stage templates, checked by the status page
            wanted = []
            if audience.slack_channel:
                wanted.append(SLACK)
            if audience.email:
                wanted += [TEXT, HTML]
            if audience.call_list:
                wanted.append(SLACK)
            where = f"communication.audiences.{name}.template"
            for notice in sample_notices(self.config):
                for suffix in dict.fromkeys(wanted):
                    file = f"{audience.template}.{suffix}.j2"
                    try:
                        if suffix == SLACK:
                            self.slack_text(name, audience, notice)
                        else:
                            env = self.text if suffix == TEXT else self.html
                            env.get_template(file).render(**self.context(name, notice))
                    except jinja2.TemplateNotFound:
                        found.append(f"{where}: template {file} not found (templates/ or templates_dir)")
                    except Exception as exc:  # a user template can fail in any way; report it
                        found.append(f"{where}: {file}: {type(exc).__name__}: {exc}")
        return list(dict.fromkeys(found))


def sample_notices(config: IncidentSettings) -> list[Notice]:
    now = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
    incident = Incident(
        id=42,
        title="Checkout returns 502 for some users",
        severity=config.severities[0].id,
        status=config.initial_status,
        summary="About 5% of checkout requests fail.",
        service=None,
        private=False,
        reporter="U0REPORTER",
        created_at=now - timedelta(minutes=65),
        channel_id="C0INCIDENT",
        roles={"incident_commander": "U0COMMANDER"},
    )
    return [
        Notice(DECLARED, incident, now, incident.status),
        Notice("update", incident, now, incident.status, "Errors began after a deploy.", "Rolling back.", 30),
        Notice(FINAL, incident, now, config.resolved_status, resolution="Rolled back the deploy."),
    ]


def new_message_id(incident_id: int, audience: str, domain: str) -> str:
    """Unique per mail (a random part), stable once stored: a resend carries the same Message-ID, so a
    mail client shows one message, and the thread's replies point at it."""
    return f"<incident-{incident_id}.{audience}.{secrets.token_hex(8)}@{domain}>"


def build_message(
    *,
    mail_from: str,
    recipients: list[str],
    subject: str,
    text: str,
    html: str,
    message_id: str,
    in_reply_to: str | None,
    references: str | None,
    written_at: datetime,
    reference: str | None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(written_at.astimezone(UTC))
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    if reference:
        message["X-Incident-Reference"] = reference
    for name, value in (headers or {}).items():
        message[name] = value
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the bot
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


@dataclass(frozen=True)
class PersonalCopies:
    """One message sent to many people, a copy each that differs only in its recipient, its Message-ID and
    threading headers, and one personal link in the body (a status page's subscribers and their unsubscribe
    links). The common part is made once; a copy is a few joins and a base64 of the two bodies. Building a
    full `EmailMessage` per copy cost ~1 ms each — ten seconds of the event loop for ten thousand copies,
    which is what answers Slack."""

    head: bytes
    text: str
    html: str
    slot: str
    boundary: str

    @classmethod
    def build(
        cls,
        *,
        mail_from: str,
        subject: str,
        text: str,
        html: str,
        slot: str,
        written_at: datetime,
        headers: dict[str, str],
    ) -> PersonalCopies:
        boundary = f"=_{secrets.token_hex(12)}"
        common = {
            "From": mail_from,
            "Subject": subject,
            "Date": format_datetime(written_at.astimezone(UTC)),
            "Auto-Submitted": "auto-generated",
            **headers,
            "MIME-Version": "1.0",
            "Content-Type": f'multipart/alternative; boundary="{boundary}"',
        }
        folded = (
            UNFOLDED.header_factory(name, value).fold(policy=UNFOLDED) for name, value in common.items()
        )
        head = "".join(folded).encode("ascii")  # non-ASCII words are RFC 2047 encoded by the fold
        return cls(head, text, html, slot, boundary)

    def copy(
        self,
        *,
        to: str,
        message_id: str,
        link: str,
        in_reply_to: str | None = None,
        references: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """The copy for `to` (an ASCII address), with `link` where the slot is; `headers` are ASCII values."""
        own = {"To": to, "Message-ID": message_id, **(headers or {})}
        if in_reply_to:
            own["In-Reply-To"] = in_reply_to
        if references:
            own["References"] = references
        lines = [f"{name}: {value}" for name, value in own.items()]
        parts = [self._part("plain", self.text.replace(self.slot, link))]
        parts.append(self._part("html", self.html.replace(self.slot, link)))
        body = b"".join(parts) + f"--{self.boundary}--\r\n".encode()
        return self.head + ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _part(self, subtype: str, content: str) -> bytes:
        encoded = base64.encodebytes(content.encode()).replace(b"\n", b"\r\n")
        head = (
            f'--{self.boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        )
        return head.encode() + encoded
