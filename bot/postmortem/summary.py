"""The post-mortem in one Slack message, inside Block Kit's limits however long the incident.

A separate renderer from the Markdown document (`compile`): same facts and figures, Slack mrkdwn
instead of Markdown, and it must say what it left out rather than grow.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from bot.domain import EventKind, TimelineEvent
from bot.formatting import escape_mrkdwn, human_duration, status_label, user_mention
from bot.messages import (
    FALLBACK_LIMIT,
    MESSAGE_BLOCKS,
    TEXT_LIMIT,
    Message,
    context,
    fields_sections,
    header,
    section,
    truncate,
)
from bot.postmortem.facts import NARRATIVE, Facts, file_name, normalized_incident, ordered_events
from bot.postmortem.figures import budget_consumed, response_verdict
from bot.postmortem.metrics import response_times
from bot.postmortem.store import DONE
from bot.postmortem.timeline import TIME, aware, pct, seconds
from bot.settings import IncidentSettings
from bot.templating import severity_label

KEY_MOMENTS = 15
SUMMARY_ACTIONS = 10
SUMMARY_SLOS = 10
_KEY_KINDS = {
    EventKind.DECLARED,
    EventKind.SEVERITY_CHANGED,
    EventKind.STATUS_CHANGED,
    EventKind.PAGE_ACKED,
    EventKind.ESCALATION_EXHAUSTED,
    EventKind.RESOLVED,
    EventKind.REOPENED,
}


def _slack_moment(event: TimelineEvent, config: IncidentSettings) -> str:
    data = event.data
    if event.kind == EventKind.DECLARED:
        return f"declared as {escape_mrkdwn(severity_label(str(data.get('severity') or ''), config))}"
    if event.kind == EventKind.SEVERITY_CHANGED:
        return f"severity {escape_mrkdwn(data.get('from'))} → *{escape_mrkdwn(data.get('to'))}*"
    if event.kind == EventKind.STATUS_CHANGED:
        return f"status → *{escape_mrkdwn(status_label(data.get('to')))}*"
    if event.kind == EventKind.PAGE_ACKED:
        took = seconds(data.get("time_to_acknowledge_seconds"))
        return "page acknowledged" + (f" after {human_duration(took)}" if took is not None else "")
    if event.kind == EventKind.ESCALATION_EXHAUSTED:
        return "escalation policy ran out without an acknowledgement"
    if event.kind == EventKind.REOPENED:
        return "*reopened*"
    return "*resolved*"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def summary_message(facts: Facts, link: str | None = None) -> Message:
    """The post-mortem in one Slack message: facts, figures, key moments, action items, and a link to the
    full document. Stays inside Block Kit's limits however long the incident; says what it left out."""
    config = facts.config
    incident = normalized_incident(facts.incident)
    events = ordered_events(facts.events)
    narrative = facts.narrative or {}
    now = aware(facts.now)
    times = response_times(incident, events, config.mitigated_statuses, narrative)
    verdict = response_verdict(dataclasses.replace(facts, incident=incident), times, events)

    def local(moment: datetime | None) -> str:
        return aware(moment).astimezone(config.zone).strftime(TIME) if moment else "—"

    def took(delta: timedelta | None) -> str:
        return human_duration(delta) if delta is not None else "not recorded"

    duration = (
        human_duration(incident.resolved_at - incident.created_at)
        if incident.resolved_at
        else f"ongoing ({human_duration(now - incident.created_at)})"
    )
    service = config.service(incident.service)
    blocks: list[dict[str, Any]] = [
        header(f"Post-mortem · {incident.reference} · {incident.title}"),
        *fields_sections(
            [
                ("Severity", escape_mrkdwn(severity_label(incident.severity, config))),
                ("Incident status", escape_mrkdwn(status_label(incident.status))),
                ("Duration", duration),
                ("Incident Commander", user_mention(incident.commander)),
                ("Declared", local(incident.created_at)),
                ("Resolved", local(incident.resolved_at) if incident.resolved_at else "not yet"),
                ("Service", escape_mrkdwn(service.name if service else incident.service or "—")),
                ("Post-mortem", escape_mrkdwn(status_label(facts.status))),
            ]
        ),
    ]

    summary = str(narrative.get("summary") or "").strip()
    if summary:
        note = f"\n… _({len(summary):,} characters in all: read the full post-mortem)_"
        text = truncate(f"*Summary*\n{escape_mrkdwn(summary)}", TEXT_LIMIT, note)
    else:
        text = f"*Summary*\n_Not written yet — {NARRATIVE['summary'].prompt}_"
    blocks.append(section(text))

    target = verdict.text.replace("**", "*")
    blocks.append(
        section(
            "*Detection and response*\n"
            f"• Time to detect: {took(times.time_to_detect)}\n"
            f"• Time to acknowledge: {took(times.time_to_acknowledge)}\n"
            f"• Time to mitigate: {took(times.time_to_mitigate)}\n"
            f"• Time to resolve: {took(times.time_to_resolve)}\n"
            f"Response target {escape_mrkdwn(target)}"
        )
    )

    changes = budget_consumed(events)
    if changes:
        lines = [
            f"• {escape_mrkdwn(c.slo)}: "
            + (
                f"*{pct(c.consumed)}* of the budget ({pct(c.at_declare)} → {pct(c.at_resolve)} left)"
                if c.consumed is not None
                else f"no data ({escape_mrkdwn(c.note)})"
            )
            for c in changes[:SUMMARY_SLOS]
        ]
        if len(changes) > SUMMARY_SLOS:
            lines.append(f"…and {len(changes) - SUMMARY_SLOS} more SLOs in the post-mortem")
        blocks.append(section("*Error budget consumed*\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Error budget consumed*\nNo SLO snapshots were recorded."))

    key = [e for e in events if e.kind in _KEY_KINDS]
    shown = key if len(key) <= KEY_MOMENTS else [*key[: KEY_MOMENTS - 3], *key[-3:]]
    lines = []
    for index, event in enumerate(shown):
        if len(key) > KEY_MOMENTS and index == KEY_MOMENTS - 3:
            lines.append(f"… _{_plural(len(key) - KEY_MOMENTS, 'more key moment')}_")
        lines.append(f"• {local(event.occurred_at)} — {truncate(_slack_moment(event, config), 150)}")
    blocks.append(section("*Key moments*\n" + ("\n".join(lines) or "_none recorded_")))
    shown_ids = {id(e) for e in shown}
    others = Counter(str(e.kind) for e in events if id(e) not in shown_ids)
    left_out = len(events) - len(shown)
    if left_out:
        tally = ", ".join(f"{kind.replace('_', ' ')} ×{count:,}" for kind, count in others.most_common(6))
        more = f" (and {len(others) - 6} other kinds)" if len(others) > 6 else ""
        blocks.append(
            context(
                f"{_plural(len(events), 'timeline event')}; {len(shown):,} shown here, {left_out:,} left out"
                f" — {tally}{more}. All of them are in the full post-mortem."
            )
        )

    if facts.actions:
        open_count = sum(1 for item in facts.actions if item.status != DONE)
        lines = []
        for item in facts.actions[:SUMMARY_ACTIONS]:
            owner = user_mention(item.owner) if item.owner else "unassigned"
            due = f", due {item.due.isoformat()}" if item.due else ""
            state = "done" if item.status == DONE else "open"
            lines.append(
                f"• {escape_mrkdwn(truncate(' '.join(item.text.split()), 200))} — {owner}{due} ({state})"
            )
        if len(facts.actions) > SUMMARY_ACTIONS:
            lines.append(f"…and {len(facts.actions) - SUMMARY_ACTIONS:,} more in the post-mortem")
        title = f"*Action items* ({len(facts.actions):,}, {open_count:,} open)"
        blocks.append(section(title + "\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Action items*\nNo action items yet."))

    missing = [
        spec.heading
        for key_, spec in NARRATIVE.items()
        if key_ != "impact_started_at" and not _has_text(narrative.get(key_))
    ]
    if missing:
        blocks.append(context(f"Still to write: {escape_mrkdwn(', '.join(missing))}."))

    name = file_name(incident, config.zone)
    if link and link.startswith(("https://", "http://")) and not any(c in link for c in "<>| \n"):
        blocks.append(section(f":page_facing_up: <{link}|Read the full post-mortem> (`{name}`)"))
    else:
        blocks.append(context(f":page_facing_up: Full post-mortem: `{escape_mrkdwn(name)}`"))

    fallback = (
        f"Post-mortem of {incident.reference}: {escape_mrkdwn(incident.title)} — "
        f"{escape_mrkdwn(severity_label(incident.severity, config))}, {duration}"
    )
    return Message(truncate(" ".join(fallback.split()), FALLBACK_LIMIT), blocks[:MESSAGE_BLOCKS])


def _has_text(value: Any) -> bool:
    if isinstance(value, list):
        return any(str(v or "").strip() for v in value)
    return bool(str(value or "").strip())
