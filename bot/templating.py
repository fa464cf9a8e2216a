"""Jinja2 rendering of the texts users are most likely to want in their own words.

Bundled templates are the defaults; `templates_dir` in the config overrides them file by file, so a team
can reword the management summary without forking the bot or copying every other template.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

import bot
from bot.domain import AUDIENCES, Incident, UpdateDraft
from bot.formatting import escape_mrkdwn, human_duration, status_label, to_local, user_mention
from bot.formatting.markdown import md_block, md_cell, md_inline, md_quote
from bot.settings import IncidentSettings, Severity

DEFAULT_TIME_FORMAT = "%Y-%m-%d %H:%M %Z"
TEMPLATE_SUFFIX = ".j2"
HTML_SUFFIX = ".html.j2"


def bundled_templates_dir() -> Path:
    """Wheels carry the templates inside the package; an editable checkout reads the repo folder."""
    packaged = Path(bot.__file__).parent / "_templates"
    if packaged.is_dir():
        return packaged
    return Path(bot.__file__).resolve().parent.parent / "templates"


def format_local(dt: datetime | None, config: IncidentSettings, fmt: str = DEFAULT_TIME_FORMAT) -> str:
    if dt is None:
        return "—"
    return to_local(dt, config.zone).strftime(fmt)


TIME_TOKEN, DATE_TIME_TOKEN = "{time}", "{date_short_pretty} {time}"


def slack_time(dt: datetime, config: IncidentSettings, fmt: str = "%H:%M %Z", token: str = TIME_TOKEN) -> str:
    """A time each Slack reader sees in their own zone; the config's zone is the fallback text (and what
    e-mail, logs and the stand-in show)."""
    return f"<!date^{int(dt.timestamp())}^{token}|{format_local(dt, config, fmt)}>"


def slack_date_time(dt: datetime, config: IncidentSettings) -> str:
    return slack_time(dt, config, DEFAULT_TIME_FORMAT, DATE_TIME_TOKEN)


def severity_label(severity_id: str | None, config: IncidentSettings) -> str:
    """A severity removed from config must still render for incidents declared with it."""
    if not severity_id:
        return "—"
    severity = config.severity(severity_id)
    return severity.label if severity else severity_id


class Templates:
    """One Jinja environment per config; cheap to build, so tests make one per case."""

    def __init__(self, config: IncidentSettings) -> None:
        self.config = config
        self.bundled_dir = bundled_templates_dir()
        self.override_dir = config.templates_dir
        loaders: list[jinja2.BaseLoader] = []
        if self.override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(self.override_dir))
        loaders.append(jinja2.FileSystemLoader(self.bundled_dir))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # Slack mrkdwn, not HTML: templates escape user text with `|esc`
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters.update(
            esc=escape_mrkdwn,
            localtime=self._localtime,
            slacktime=lambda dt, fmt="%Y-%m-%d %H:%M %Z": slack_time(dt, config, fmt) if dt else "",
            duration=human_duration,
            minutes=lambda n: timedelta(minutes=int(n)),
            user=user_mention,
            status_label=status_label,
            severity_label=lambda sev: severity_label(sev, config),
            md=md_inline,  # Markdown (the post-mortem): user text in a line, a cell, a paragraph, a quote
            md_cell=md_cell,
            md_block=md_block,
            md_quote=md_quote,
        )
        self.env.globals["config"] = config

    def _localtime(self, dt: datetime | None, fmt: str = DEFAULT_TIME_FORMAT) -> str:
        return format_local(dt, self.config, fmt)

    def render(self, name: str, **context: Any) -> str:
        text = self.env.get_template(name).render(**context)
        return "\n".join(line.rstrip() for line in text.splitlines()).strip()

    def names(self) -> list[str]:
        """The Slack and Markdown templates; HTML ones (the status page) have their own escaping environment
        and check (`bot.statuspage.pages`)."""
        return sorted(
            n
            for n in self.env.list_templates()
            if n.endswith(TEMPLATE_SUFFIX) and not n.endswith(HTML_SUFFIX)
        )

    def check(self, extra_samples: dict[str, dict[str, Any]] | None = None) -> list[str]:
        """Compile every template, then render the ones the bot renders with a sample incident.

        Compiling alone misses the common override mistake, a misspelt variable (`incident.titel`),
        which StrictUndefined only reports at render time, i.e. during a real incident.
        """
        errors: list[str] = []
        if self.override_dir is not None and not self.override_dir.is_dir():
            errors.append(f"templates_dir {self.override_dir} is not a directory")
        if not self.bundled_dir.is_dir():
            errors.append(f"bundled templates missing at {self.bundled_dir}")
        samples = {**sample_contexts(self.config), **(extra_samples or {})}
        for name in self.names():
            try:
                template = self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                errors.append(f"{exc.filename or name}:{exc.lineno}: {exc.message}")
                continue
            except jinja2.TemplateError as exc:
                errors.append(f"{name}: {exc}")
                continue
            if name in samples:
                try:
                    template.render(**samples[name])
                except Exception as exc:  # a user template can fail in any way; report, don't crash
                    errors.append(f"{template.filename or name}: {type(exc).__name__}: {exc}")
        missing = sorted(set(samples) - set(self.names()))
        errors.extend(f"{name}: template not found" for name in missing)
        return errors


def sample_contexts(config: IncidentSettings) -> dict[str, dict[str, Any]]:
    """The contexts the services pass, filled with plausible values, keyed by template name."""
    now = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
    severity: Severity = config.severities[0]
    incident = Incident(
        id=42,
        title="Checkout returns 502 for some users",
        severity=severity.id,
        status=config.initial_status,
        summary="About 5% of checkout requests fail.",
        service=config.services[0].id if config.services else None,
        private=False,
        reporter="U0REPORTER",
        created_at=now - timedelta(minutes=65),
        channel_id="C0INCIDENT",
        channel_name="inc-20260115-42-checkout",
        roles={"incident_commander": "U0COMMANDER"},
    )
    draft = UpdateDraft(
        status=config.initial_status,
        known="Errors started after the 13:50 deploy.",
        doing="Rolling back the deploy.",
        next_update_minutes=config.update_interval_minutes,
        audiences=AUDIENCES,
    )
    base = {"incident": incident, "config": config, "actor": "U0COMMANDER", "now": now, "severity": severity}
    contexts = {f"update_{audience}.md.j2": {**base, "draft": draft} for audience in AUDIENCES}
    contexts["resolved_channel.md.j2"] = {
        **base,
        "resolution": "Rolled back the deploy.",
        "time_to_resolve": timedelta(minutes=65),
    }
    contexts["announcement.md.j2"] = {
        **{key: base[key] for key in ("incident", "config", "now", "severity")},
        "service": config.services[0] if config.services else None,
    }
    contexts["team_heads_up.md.j2"] = {
        **{key: base[key] for key in ("incident", "config", "now", "severity")},
        "workflow": "payments-sev1",
    }
    return contexts
