"""What an Alertmanager notification should do to incidents: the `alertmanager:` config and pure matching.

Routing is a pure function of config and payload so the webhook, `incidentbot config check` and tests can
ask "what would this alert do?" without Slack or a database. Every mistake that can be found at load time
(bad regex, template syntax, a declare without severity) is refused there, because the first time a rule
runs for real is during an outage; what can only fail at render time (a label a template expects but the
alert lacks) falls back to the default title instead of losing the alert.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, field_validator, model_validator

from bot.alerts.webhook import Notification
from bot.domain import TITLE_MAX
from bot.settings import Duration, Strict

log = logging.getLogger(__name__)

Action = Literal["declare", "attach", "post"]
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
"""Prometheus' label name syntax; anything else is a typo that would never match."""

_TEMPLATES = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
"""Sandboxed because templates come from a config file; StrictUndefined so a missing label falls back to
the default title rather than yielding "HighErrorRate on "."""


@lru_cache(maxsize=256)
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)


@lru_cache(maxsize=256)
def _template(source: str) -> jinja2.Template:
    return _TEMPLATES.from_string(source)


class AlertRule(Strict):
    """One routing rule; all of `match` and `match_re` must hold (Alertmanager's matcher semantics)."""

    match: dict[str, str] = Field(default_factory=dict)
    """Label equality; a label the alert lacks counts as "" as in Alertmanager."""
    match_re: dict[str, str] = Field(default_factory=dict)
    """Regexes that must match the whole label value (anchored, as in Alertmanager)."""
    action: Action
    severity: str | None = None
    """Incident severity id for `declare`."""
    service_label: str = "service"
    """The label naming the affected service: used to find open incidents and as the incident's service."""
    title: str | None = None
    """Jinja2 template over alertname, labels, annotations, summary, service, severity, count."""
    channel: str | None = None
    """Channel id for `post`, and for `attach` when no open incident of the service exists."""

    @field_validator("match", "match_re")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not LABEL_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a label name (letters, digits and _, not starting with a digit)"
                )
        return value

    @field_validator("match_re")
    @classmethod
    def _regexes_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            try:
                _pattern(source)
            except re.error as exc:
                raise ValueError(
                    f"label {name!r}: {source!r} is not a valid regular expression ({exc})"
                ) from exc
        return value

    @field_validator("service_label")
    @classmethod
    def _service_label_name(cls, value: str) -> str:
        if not LABEL_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a label name")
        return value

    @field_validator("title")
    @classmethod
    def _title_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            _template(value)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"not a valid Jinja2 template: {exc.message} (line {exc.lineno})") from exc
        return value

    @model_validator(mode="after")
    def _action_needs(self) -> AlertRule:
        if self.action == "declare" and not self.severity:
            raise ValueError("action declare needs a severity (e.g. severity: SEV1)")
        if self.action == "post" and not self.channel:
            raise ValueError("action post needs a channel (a channel id such as C0ALERTS)")
        if self.action == "attach" and not self.channel:
            raise ValueError(
                "action attach needs a channel for alerts when no incident of their service is open"
            )
        return self

    @property
    def catch_all(self) -> bool:
        return not self.match and not self.match_re

    def matches(self, labels: Mapping[str, str]) -> bool:
        equal = all(labels.get(name, "") == value for name, value in self.match.items())
        return equal and all(
            _pattern(source).fullmatch(labels.get(name, "")) is not None
            for name, source in self.match_re.items()
        )


class AlertmanagerConfig(Strict):
    """The `alertmanager:` section of the YAML file."""

    refire_window: Duration = timedelta(minutes=5)
    """A group firing again this soon after resolving re-attaches to its incident (no new declare)."""
    resolved_status: str | None = None
    """Status an incident moves to when all its alerts resolve; None leaves the status alone."""
    rules: list[AlertRule] = Field(default_factory=list)
    """First match wins; no match means the notification is only logged."""
    runbooks: dict[str, str] = Field(default_factory=dict)
    """alertname -> runbook name or URL, for alerts without a `runbook_url` annotation."""

    @field_validator("refire_window")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("rules")
    @classmethod
    def _catch_all_last(cls, value: list[AlertRule]) -> list[AlertRule]:
        for index, rule in enumerate(value[:-1]):
            if rule.catch_all:
                raise ValueError(
                    f"rule {index} has no match or match_re, so it takes every alert and rules "
                    f"{index + 1}–{len(value) - 1} never apply; move it last"
                )
        return value

    def check_references(self, severities: Collection[str], statuses: Collection[str]) -> list[str]:
        """Problems only the whole config can see (the ids live in other sections); empty when fine."""
        problems = []
        known = {s.upper() for s in severities}
        for index, rule in enumerate(self.rules):
            if rule.severity and rule.severity.upper() not in known:
                problems.append(
                    f"alertmanager.rules.{index}.severity: unknown severity {rule.severity!r} "
                    f"(configured: {', '.join(severities)})"
                )
        if self.resolved_status is not None and self.resolved_status not in statuses:
            problems.append(
                f"alertmanager.resolved_status: {self.resolved_status!r} is not one of the statuses "
                f"({', '.join(statuses)}); use one of them or null"
            )
        return problems


@dataclass(frozen=True)
class Route:
    """What to do with one notification, decided once so the service does not re-read the rule."""

    rule_index: int
    rule: AlertRule
    action: Action
    severity: str | None
    """Set for `declare` only."""
    service: str | None
    title: str
    channel: str | None


def route(config: AlertmanagerConfig, notification: Notification) -> Route | None:
    """The first rule one of the group's alerts matches (firing ones first), or None."""
    candidates = _label_sets(notification)
    for index, rule in enumerate(config.rules):
        matched = next((labels for labels in candidates if rule.matches(labels)), None)
        if matched is not None:
            return _resolve(index, rule, notification, matched)
    return None


def runbook_for(config: AlertmanagerConfig, notification: Notification) -> str | None:
    """The alert's own `runbook_url` wins: it was written next to the alert rule and is the freshest."""
    return notification.runbook_url or config.runbooks.get(notification.alertname) or None


def _label_sets(notification: Notification) -> list[Mapping[str, str]]:
    """Alertmanager routes per alert, but notifies per group: a group goes where one of its alerts would."""
    firing = [alert.labels for alert in notification.firing]
    if firing:
        return firing
    every = [alert.labels for alert in notification.alerts]
    return every or [_group_labels(notification)]


def _group_labels(notification: Notification) -> dict[str, str]:
    return {**notification.group_labels, **notification.common_labels}


def _resolve(index: int, rule: AlertRule, notification: Notification, matched: Mapping[str, str]) -> Route:
    service = notification.label(rule.service_label) or matched.get(rule.service_label) or None
    severity = rule.severity if rule.action == "declare" else None
    return Route(
        rule_index=index,
        rule=rule,
        action=rule.action,
        severity=severity,
        service=service,
        title=render_title(rule.title, notification, service=service, severity=severity),
        channel=rule.channel,
    )


def default_title(notification: Notification) -> str:
    name, summary = notification.alertname, notification.summary
    if name and summary and summary != name:
        return _fit(f"{name}: {summary}")
    return _fit(name or summary or "Alertmanager alert")


def render_title(
    source: str | None, notification: Notification, *, service: str | None = None, severity: str | None = None
) -> str:
    """Never raises: an alert must become an incident even when its title template is wrong."""
    if not source:
        return default_title(notification)
    context: dict[str, Any] = {
        "alertname": notification.alertname,
        "labels": _group_labels(notification),
        "annotations": dict(notification.common_annotations),
        "summary": notification.summary,
        "service": service,
        "severity": severity,
        "count": len(notification.firing),
    }
    try:
        text = _fit(_template(source).render(context))
    except Exception as exc:  # a sandbox violation, a missing label, a filter error…: all mean "use default"
        log.warning(
            "alert title template %r failed (%s: %s); using the default title",
            source,
            type(exc).__name__,
            exc,
        )
        return default_title(notification)
    return text or default_title(notification)


def _fit(text: str) -> str:
    """Incident titles are one line of at most TITLE_MAX characters (domain rule, Slack header limit)."""
    text = " ".join(text.split())
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1].rstrip() + "…"
