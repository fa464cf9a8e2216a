"""The HTML pages (`/status`, `/status/incidents/{id}`) from Jinja templates, overridable like the others.

Its own Jinja environment with autoescaping on: every title and text a person typed is escaped, so a
`<script>` in a title is shown, never run. The stage templates (`statuspage_<status>.txt.j2`) are plain
text, rendered here too (escaping happens when they are shown).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from bot.statuspage import uptime
from bot.statuspage.model import PublicIncident, PublicUpdate
from bot.statuspage.shapes import iso
from bot.statuspage.state import PageState, label
from bot.templating import bundled_templates_dir

PAGE, INCIDENT = "status_page.html.j2", "status_incident.html.j2"
SUBSCRIBE = "status_subscribe.html.j2"
STAGE = "statuspage_{status}.txt.j2"
MAIL = "subscriber_{name}.{part}.j2"
SAMPLE_UPDATE: dict[str, Any] = {
    "title": "Example Status",
    "kind": "update",
    "heading": "Checkout errors",
    "status": "Identified",
    "body": "We found the cause.",
    "affected": [("Checkout", "Partial Outage")],
    "when": "2026-01-15 15:00 CET",
    "link": "https://status.example.com/status/incidents/42",
    "page_url": "https://status.example.com/status",
    "unsubscribe_url": "https://status.example.com/status/unsubscribe?token=t",
}
"""What `subscriber_update` templates are given (here for `config check`)."""
SAMPLE_CONFIRM: dict[str, Any] = {
    "title": "Example Status",
    "page_url": "https://status.example.com/status",
    "confirm_url": "https://status.example.com/status/subscribe/confirm?token=t",
    "hours": 24,
    "components": "all components",
}


def percent(value: float | None) -> str:
    """Rounded down, so a day with any downtime never reads 100%."""
    if value is None:
        return "no data"
    if value >= 1:
        return "100%"
    return f"{math.floor(value * 10000) / 100:.2f}%"


@jinja2.pass_context
def _localtime(context: Any, moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(context["state"].zone).strftime("%b %d, %Y %H:%M %Z")


def _affected_of(state: PageState) -> Any:
    def affected(incident: PublicIncident, update: PublicUpdate) -> list[Any]:
        return incident.affected(incident.updates.index(update), state.component_names())

    return affected


class Pages:
    def __init__(self, templates_dir: Path | None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if templates_dir is not None:
            loaders.append(jinja2.FileSystemLoader(templates_dir))
        loaders.append(jinja2.FileSystemLoader(bundled_templates_dir()))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(localtime=_localtime, iso=iso, label=label, percent=percent)
        self.text_env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders), autoescape=False, undefined=jinja2.StrictUndefined
        )
        self.mail_env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.subscriptions = False
        """Whether the page offers e-mail subscriptions (set by the composition: it needs the secret and
        a mail server from the environment, which this package does not read)."""

    def _render(self, name: str, state: PageState, **context: Any) -> str:
        return self.env.get_template(name).render(
            state=state,
            affected_of=_affected_of(state),
            overall=uptime.overall,
            names=state.component_names(),
            subscriptions=self.subscriptions,
            **{"form": None, **context},
        )

    def status(self, state: PageState) -> str:
        return self._render(PAGE, state)

    def incident(self, state: PageState, incident: PublicIncident) -> str:
        return self._render(INCIDENT, state, incident=incident)

    def subscribe_page(self, state: PageState, heading: str, **context: Any) -> str:
        """A page of the subscription flow (form, check your inbox, confirmed, unsubscribe…)."""
        values = {"message": None, "unsubscribe_token": None, "components_chosen": None, **context}
        return self._render(SUBSCRIBE, state, heading=heading, **values)

    def subscriber_mail(self, name: str, **context: Any) -> tuple[str, str]:
        """The text and HTML parts of a subscriber mail (`subscriber_<name>.txt.j2` / `.html.j2`)."""
        text = self.mail_env.get_template(MAIL.format(name=name, part="txt")).render(**context)
        html = self.env.get_template(MAIL.format(name=name, part="html")).render(**context)
        return text.strip() + "\n", html

    def stage_text(self, status: str, components: list[str], next_update_minutes: int) -> str:
        """The default public text of a stage (the seeds' Investigating / Identified / Monitoring /
        Resolved wording), in the team's words when they override it."""
        try:
            template = self.text_env.get_template(STAGE.format(status=status))
        except jinja2.TemplateNotFound:
            return ""
        text = template.render(components=components, next_update_minutes=next_update_minutes)
        return " ".join(text.split())

    def problems(self, state: PageState, incident: PublicIncident | None) -> list[str]:
        """Render every page with a sample, so a misspelt variable in an override fails `config check`,
        not the page during an incident."""
        found = []
        for name, render in (
            (PAGE, lambda: self.status(state)),
            (INCIDENT, lambda: self.incident(state, incident) if incident else ""),
        ):
            try:
                render()
            except Exception as exc:  # a user template can fail in any way; report, don't crash
                found.append(f"{name}: {type(exc).__name__}: {exc}")
        for status in ("investigating", "identified", "monitoring", "resolved"):
            try:
                self.stage_text(status, ["API"], 30)
            except Exception as exc:
                found.append(f"{STAGE.format(status=status)}: {type(exc).__name__}: {exc}")
        return found + self._subscription_problems(state)

    def _subscription_problems(self, state: PageState) -> list[str]:
        """The subscription pages (offered or not) and the subscriber mails, rendered with samples."""
        found = []
        offered = self.subscriptions
        renders = [
            (
                SUBSCRIBE,
                lambda: self.subscribe_page(state, "Unsubscribe", message="m", unsubscribe_token="t"),
            ),
            (
                MAIL.format(name="update", part="txt/html"),
                lambda: self.subscriber_mail("update", **SAMPLE_UPDATE),
            ),
            (
                MAIL.format(name="confirm", part="txt/html"),
                lambda: self.subscriber_mail("confirm", **SAMPLE_CONFIRM),
            ),
        ]
        form = {"email": "a@example.com", "all": False, "components": ["api"], "error": "Enter your e-mail."}
        renders.append(
            (
                SUBSCRIBE,
                lambda: self._with_subscriptions(True, lambda: self.subscribe_page(state, "S", form=form)),
            )
        )
        for on in (True, False):
            renders.append((PAGE, lambda on=on: self._with_subscriptions(on, lambda: self.status(state))))
        for name, render in renders:
            try:
                render()
            except Exception as exc:  # a user template can fail in any way; report, don't crash
                found.append(f"{name}: {type(exc).__name__}: {exc}")
        self.subscriptions = offered
        return list(dict.fromkeys(found))

    def _with_subscriptions(self, on: bool, render: Any) -> Any:
        self.subscriptions = on
        return render()
