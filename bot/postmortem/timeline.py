"""Timeline events as readable Markdown, one kind at a time, for the post-mortem.

Each kind is rendered from what its service stores in `data` (bot/services/*.py); an unknown kind (a
newer bot, a removed feature) still prints its text. People are shown as `@U…` or by the name the caller
looked up, never as `<@U…>`: the document is read outside Slack. User text is always escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import EventKind, Incident, TimelineEvent
from bot.formatting import human_duration, status_label
from bot.formatting.markdown import (
    md_block,
    md_cell,
    md_code,
    md_inline,
    md_link,
    md_quote,
    person_name,
    slack_plain,
)
from bot.postmortem.automation import HANDLERS as AUTOMATION
from bot.postmortem.automation import params_text
from bot.settings import IncidentSettings
from bot.templating import severity_label

PROVIDERS = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie", "slack": "Slack"}
TIMELINE_TIME = "%Y-%m-%d %H:%M:%S %Z"
TIME = "%Y-%m-%d %H:%M %Z"
OUTPUT_LINES = 20
OUTPUT_CHARS = 2000
"""Runbook output quoted per step in the timeline; the full (redacted) output stays in Slack."""


def provider_name(provider: str) -> str:
    return PROVIDERS.get(provider, provider)


def aware(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite may hand them back naive, which still means UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def seconds(value: Any) -> timedelta | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    return None


def pct(value: float | None, digits: int = 1) -> str:
    return "no data" if value is None else f"{value * 100:.{digits}f} %"


def objective_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.{max(0, _decimals(value * 100))}f} %"


def _decimals(percent: float) -> int:
    for digits in range(4):
        if abs(round(percent, digits) - percent) < 1e-9:
            return digits
    return 3


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return aware(moment)


# -- the timeline, event by event ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One timeline event, ready to print; every part is Markdown with user text escaped."""

    at: datetime
    time: str
    kind: str
    who: str
    what: str
    """One line."""
    details: tuple[str, ...] = ()
    """Sub-items; each may span lines (indent continuation lines when placing it)."""
    block: str = ""
    """A quote or code block under the item (indent it as a whole)."""


@dataclass
class Describer:
    """Renders events of one incident; `names` maps Slack user ids to display names."""

    config: IncidentSettings
    incident: Incident
    names: Mapping[str, str]
    zone: Any = field(init=False)

    def __post_init__(self) -> None:
        self.zone = self.config.zone

    def who(self, user: object) -> str:
        return md_inline(person_name(str(user), self.names)) if user else "—"

    def text(self, value: object) -> str:
        return slack_plain(value, self.names)

    def local(self, moment: datetime | None, fmt: str = TIME) -> str:
        return aware(moment).astimezone(self.zone).strftime(fmt) if moment else "not recorded"

    def severity(self, severity_id: object) -> str:
        return md_inline(severity_label(str(severity_id), self.config)) if severity_id else "—"

    def role(self, role_id: str) -> str:
        role = self.config.role(role_id) if role_id else None
        return md_inline(role.name if role else status_label(role_id))

    def entry(self, event: TimelineEvent) -> Entry:
        handler = _HANDLERS.get(str(event.kind)) or AUTOMATION.get(str(event.kind))
        what, details, block = handler(self, event) if handler else self.other(event)
        actor = event.actor
        if actor:
            who = self.who(actor)
        elif event.kind in (EventKind.ALERT_RECEIVED, EventKind.ALERT_RESOLVED):
            who = "Alertmanager"
        else:
            who = "incidentbot"
        return Entry(
            at=event.occurred_at,
            time=aware(event.occurred_at).astimezone(self.zone).strftime(TIMELINE_TIME),
            kind=str(event.kind),
            who=who,
            what=what,
            details=tuple(details),
            block=block,
        )

    # Each handler returns (what, details, block).
    Parts = tuple[str, list[str], str]

    def other(self, event: TimelineEvent) -> Parts:
        if event.kind == EventKind.UNKNOWN:
            kind = md_inline(str(event.data.get("unknown_kind", "")))
            what = f"Event of a kind this version does not know ({kind})"
            return f"{what}: {md_inline(self.text(event.text))}", [], ""
        return f"{md_inline(status_label(str(event.kind)))}: {md_inline(self.text(event.text))}", [], ""

    def declared(self, event: TimelineEvent) -> Parts:
        data = event.data
        status = f" ({md_inline(status_label(data['status']))})" if data.get("status") else ""
        what = (
            f"Declared as **{self.severity(data.get('severity') or self.incident.severity)}**{status}:"
            f" {md_inline(self.text(event.text))}"
        )
        details: list[str] = []
        if data.get("summary"):
            details.append(f"Impact: {md_block(self.text(data['summary']))}")
        if data.get("commander"):
            details.append(f"Incident Commander: {self.who(data['commander'])}")
        if data.get("service"):
            service = self.config.service(data["service"])
            details.append(f"Service: {md_inline(service.name if service else data['service'])}")
        if data.get("private"):
            details.append("Private incident")
        if data.get("source_permalink"):
            details.append(f"Declared from {md_link(data['source_permalink'], 'a Slack message')}")
        return what, details, ""

    def channel_created(self, event: TimelineEvent) -> Parts:
        name = event.data.get("name") or event.text
        return f"Incident channel #{md_inline(name)} created", [], ""

    def status_changed(self, event: TimelineEvent) -> Parts:
        data = event.data
        before, after = md_inline(status_label(data.get("from"))), md_inline(status_label(data.get("to")))
        return f"Status changed: {before} → **{after}**", [], ""

    def severity_changed(self, event: TimelineEvent) -> Parts:
        data = event.data
        verb = {"up": "raised", "down": "lowered"}.get(str(data.get("direction")), "changed")
        if data.get("reclassified"):
            verb = "reclassified after resolution"
        return (
            f"Severity {verb}: {self.severity(data.get('from'))} → **{self.severity(data.get('to'))}**",
            [],
            "",
        )

    def role_assigned(self, event: TimelineEvent) -> Parts:
        data = event.data
        role, user = self.role(str(data.get("role") or "")), self.who(data.get("user"))
        if data.get("handover"):
            how = " (transfer of command, accepted)" if data.get("transfer") else ""
            return f"{role} handed over from {self.who(data.get('previous'))} to **{user}**{how}", [], ""
        return f"**{user}** is now {role}", [], ""

    def update_posted(self, event: TimelineEvent) -> Parts:
        data = event.data
        what = f"Status update posted ({md_inline(status_label(data.get('status')))})"
        known = data.get("known", event.text)
        details = [f"What we know: {md_block(self.text(known))}"] if known else []
        if data.get("doing"):
            details.append(f"What we are doing: {md_block(self.text(data['doing']))}")
        minutes = data.get("next_update_minutes")
        if isinstance(minutes, int) and minutes > 0:
            details.append(f"Next update promised in {human_duration(timedelta(minutes=minutes))}")
        return what, details, ""

    def status_page(self, event: TimelineEvent) -> Parts:
        """A public update: asked for, published (who wrote it, who approved it) or rejected."""
        data = event.data
        verb = {
            EventKind.STATUS_PAGE_REQUESTED: "Status page update asked for approval",
            EventKind.STATUS_PAGE_PUBLISHED: "Published on the status page",
            EventKind.STATUS_PAGE_REJECTED: "Status page update rejected",
        }[event.kind]
        what = f"{verb} ({md_inline(status_label(data.get('status')))})"
        details = [f"Public text: {md_block(self.text(data.get('body', event.text)))}"]
        source = " from the CLI" if data.get("source") == "cli" else ""
        details.append(f"Written by {self.who(data.get('author'))}{source}")
        if data.get("approver") and event.kind != EventKind.STATUS_PAGE_REQUESTED:
            edited = "edited and " if data.get("edited") else ""
            decided = "rejected" if event.kind == EventKind.STATUS_PAGE_REJECTED else f"{edited}approved"
            details.append(f"{decided.capitalize()} by {self.who(data.get('approver'))}")
        return what, details, ""

    def _with_source(self, event: TimelineEvent, verb: str) -> str:
        author = event.data.get("author")
        by = f" by {self.who(author)}" if author and author != event.actor else ""
        link = md_link(event.data.get("permalink"), "permalink")
        return f"{verb}{by}" + (f" ({link})" if link else "")

    def note_added(self, event: TimelineEvent) -> Parts:
        text = self.text(event.text)
        head = self._with_source(event, "Note")
        if "\n" in text.strip():
            return f"{head}:", [], md_block(text)
        return f"{head}: {md_inline(text)}", [], ""

    def message_pinned(self, event: TimelineEvent) -> Parts:
        head = self._with_source(event, "Pinned a message")
        return f"{head}:", [], md_quote(self.text(event.text)) or "> _(message without text)_"

    def resolved(self, event: TimelineEvent) -> Parts:
        took = seconds(event.data.get("time_to_resolve_seconds"))
        after = f" after {human_duration(took)}" if took is not None else ""
        text = self.text(event.text)
        if "\n" in text.strip():
            return f"**Resolved**{after}:", [], md_block(text)
        return f"**Resolved**{after}: {md_inline(text)}", [], ""

    def reopened(self, event: TimelineEvent) -> Parts:
        return "**Reopened**", [], ""

    def integration_failed(self, event: TimelineEvent) -> Parts:
        return f"Integration failure: {md_inline(self.text(event.text))}", [], ""

    def slo_snapshot(self, event: TimelineEvent) -> Parts:
        data = event.data
        moment = {"declared": "at declaration", "resolved": "at resolution"}.get(
            str(data.get("moment")), md_inline(data.get("moment") or "")
        )
        details: list[str] = []
        if data.get("problem"):
            details.append(f"No figures: {md_inline(self.text(data['problem']))}")
        for slo in data.get("slos") or []:
            name = f"{md_inline(slo.get('id'))} (objective {objective_text(slo.get('objective'))})"
            if slo.get("error") or slo.get("budget_remaining") is None:
                details.append(
                    f"{name}: no data" + (f" — {md_inline(slo['error'])}" if slo.get("error") else "")
                )
                continue
            parts = [f"budget left **{pct(slo.get('budget_remaining'))}**", f"SLI {pct(slo.get('sli'), 3)}"]
            burn = (slo.get("burn_rates") or {}).get("1h")
            if isinstance(burn, int | float):
                parts.append(f"1 h burn rate {burn:.1f}×")
            if slo.get("alert"):
                parts.append(f"alert state {md_inline(slo['alert'])}")
            details.append(f"{name}: " + ", ".join(parts))
        if not details:
            details.append("No SLOs were evaluated")
        return f"SLO snapshot {moment}".rstrip(), details, ""

    def page_sent(self, event: TimelineEvent) -> Parts:
        data = event.data
        provider = str(data.get("provider") or "slack")
        if provider != "slack":
            key = md_inline(data.get("dedup_key") or "")
            return f"{md_inline(provider_name(provider))} alert {key} triggered".replace("  ", " "), [], ""
        reason = f" ({md_inline(self.text(data['reason']))})" if data.get("reason") else ""
        return f"Paged **{self.who(data.get('user'))}**{reason}", [], ""

    def page_failed(self, event: TimelineEvent) -> Parts:
        return f"Page failed: {md_inline(self.text(event.text))}", [], ""

    def page_acked(self, event: TimelineEvent) -> Parts:
        data = event.data
        via = str(data.get("via") or "slack")
        by = self.who(data.get("user") or event.actor)
        what = f"Page acknowledged by **{by}**" + (
            f" via {md_inline(provider_name(via))}" if via != "slack" else ""
        )
        took = seconds(data.get("time_to_acknowledge_seconds"))
        if took is not None:
            what += f" — time to acknowledge {human_duration(took)}"
            target = seconds(data.get("target_seconds"))
            if target is not None:
                what += f" (target {human_duration(target)}: {'met' if data.get('target_met') else 'missed'})"
        return what, [], ""

    def escalated(self, event: TimelineEvent) -> Parts:
        step = event.data.get("step")
        return f"Escalated by hand{f' to step {step}' if step else ''} of the escalation policy", [], ""

    def escalation_exhausted(self, event: TimelineEvent) -> Parts:
        return (
            f"Escalation policy ran out without an acknowledgement ({md_inline(self.text(event.text))})",
            [],
            "",
        )

    def reminder_sent(self, event: TimelineEvent) -> Parts:
        return f"Update reminder: {md_inline(self.text(event.text))}", [], ""

    def reminder_snoozed(self, event: TimelineEvent) -> Parts:
        until = parse_time(event.data.get("until"))
        when = self.local(until) if until else ""
        return "Update reminder snoozed" + (f" until {when}" if when else ""), [], ""

    def alert(self, event: TimelineEvent) -> Parts:
        data = event.data
        alert = data.get("alert") or {}
        name = md_inline(alert.get("alertname") or "alert")
        change = str(data.get("change") or ("resolved" if event.kind == EventKind.ALERT_RESOLVED else ""))
        firing = alert.get("firing")
        count = f"{firing} alert{'s' if firing != 1 else ''}" if isinstance(firing, int) else ""
        what = {
            "opened": f"Alert **{name}** firing" + (f" ({count})" if count else ""),
            "alerts_added": f"Alert **{name}**: {alert.get('new', 'more')} more firing"
            + (f" ({count} in the group)" if count else ""),
            "refired": f"Alert **{name}** firing again" + (f" ({count})" if count else ""),
            "resolved": f"Alert **{name}** resolved",
        }.get(change, f"Alert **{name}** {md_inline(change)}")
        details: list[str] = []
        if alert.get("summary") and alert.get("summary") != alert.get("alertname"):
            details.append(md_block(alert["summary"]))
        labels = alert.get("labels") or {}
        if labels and change != "resolved":
            details.append(
                "Labels: " + ", ".join(f"{md_inline(k)}={md_inline(v)}" for k, v in labels.items())
            )
        started = parse_time(alert.get("starts_at"))
        if started and change != "resolved":
            details.append(f"Started {self.local(started, TIMELINE_TIME)}")
        runbook = str(alert.get("runbook") or "")
        links = [
            (md_link(runbook, "runbook") if runbook.startswith("http") else f"runbook {md_inline(runbook)}")
            if runbook
            else "",
            md_link(alert.get("generator_url"), "source"),
        ]
        if any(links):
            details.append(" · ".join(link for link in links if link))
        return what, details, ""

    def runbook_posted(self, event: TimelineEvent) -> Parts:
        return f"Runbook {md_inline(event.data.get('runbook') or event.text)} posted as a checklist", [], ""

    def step_name(self, data: Mapping[str, Any]) -> str:
        title, step = data.get("title"), data.get("step")
        name = md_inline(f"{data.get('runbook')} / {step}") if data.get("runbook") else md_inline(step)
        return f"**{md_inline(title)}** ({name})" if title and title != step else f"**{name}**"

    def runbook_step_run(self, event: TimelineEvent) -> Parts:
        data = event.data
        row = step_row(self, event)
        what = f"Ran runbook step {self.step_name(data)}: {'passed' if data.get('passed') else '**failed**'}"
        details: list[str] = []
        if row.params != "—":
            details.append(f"Parameters: {row.params}")
        details.append(f"Result: {row.result}")
        if row.exit_code != "—":
            details.append(f"Exit code: {row.exit_code}")
        if row.duration != "—":
            details.append(f"Duration: {row.duration}")
        if data.get("approved_by"):
            details.append(f"Approved by {self.who(data['approved_by'])}")
        block = ""
        output = str(data.get("output") or "").strip("\n")
        if output:
            lines = output.splitlines()
            shown = "\n".join(lines[:OUTPUT_LINES])[:OUTPUT_CHARS]
            left = len(output) - len(shown)
            note = f"\n\n_Output cut here: {left:,} more characters in Slack._" if left > 0 else ""
            block = md_code(shown) + note
        return what, details, block

    def runbook_step_marked(self, event: TimelineEvent) -> Parts:
        state = str(event.data.get("state") or "")
        verb = {"done": "Ticked", "skipped": "Skipped"}.get(state, f"Marked {md_inline(state)}")
        return f"{verb} runbook step {self.step_name(event.data)}", [], ""

    def runbook_step_approval(self, event: TimelineEvent) -> Parts:
        data = event.data
        name = self.step_name(data)
        decision = data.get("decision")
        if decision == "requested":
            params = params_text(data.get("params"))
            return f"Asked to run dangerous step {name}" + (f" with {params}" if params else ""), [], ""
        if decision == "approved":
            by = f" (asked by {self.who(data['requested_by'])})" if data.get("requested_by") else ""
            return f"Approved dangerous step {name}{by}", [], ""
        if decision == "rejected":
            return f"Rejected dangerous step {name}", [], ""
        return f"Approval of step {name}: {md_inline(decision)}", [], ""

    def action_item_added(self, event: TimelineEvent) -> Parts:
        data = event.data
        number = f" #{data['item_id']}" if data.get("item_id") else ""
        extra = [f"owner {self.who(data['owner'])}"] if data.get("owner") else []
        if data.get("due"):
            extra.append(f"due {md_inline(data['due'])}")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"Action item{number} added: {md_inline(self.text(event.text))}{tail}", [], ""

    def action_item_done(self, event: TimelineEvent) -> Parts:
        number = f" #{event.data['item_id']}" if event.data.get("item_id") else ""
        return f"Action item{number} done: {md_inline(self.text(event.text))}", [], ""

    def postmortem_status(self, event: TimelineEvent) -> Parts:
        verb = {
            EventKind.POSTMORTEM_REVIEWED: "reviewed",
            EventKind.POSTMORTEM_IN_REVIEW: "ready for review",
            EventKind.POSTMORTEM_COMMITTED: "committed",
        }.get(EventKind(event.kind), "published")
        extra = md_inline(self.text(event.text))
        return f"Post-mortem {verb}" + (f": {extra}" if extra and extra != verb else ""), [], ""

    def action_item_exported(self, event: TimelineEvent) -> Parts:
        number = f" #{event.data['item_id']}" if event.data.get("item_id") else ""
        url = md_inline(self.text(str(event.data.get("url", ""))))
        return f"Action item{number} exported to {url}: {md_inline(self.text(event.text))}", [], ""


_HANDLERS: dict[str, Callable[[Describer, TimelineEvent], Describer.Parts]] = {
    EventKind.DECLARED: Describer.declared,
    EventKind.CHANNEL_CREATED: Describer.channel_created,
    EventKind.STATUS_CHANGED: Describer.status_changed,
    EventKind.SEVERITY_CHANGED: Describer.severity_changed,
    EventKind.ROLE_ASSIGNED: Describer.role_assigned,
    EventKind.UPDATE_POSTED: Describer.update_posted,
    EventKind.STATUS_PAGE_REQUESTED: Describer.status_page,
    EventKind.STATUS_PAGE_PUBLISHED: Describer.status_page,
    EventKind.STATUS_PAGE_REJECTED: Describer.status_page,
    EventKind.NOTE_ADDED: Describer.note_added,
    EventKind.MESSAGE_PINNED: Describer.message_pinned,
    EventKind.RESOLVED: Describer.resolved,
    EventKind.REOPENED: Describer.reopened,
    EventKind.INTEGRATION_FAILED: Describer.integration_failed,
    EventKind.SLO_SNAPSHOT: Describer.slo_snapshot,
    EventKind.PAGE_SENT: Describer.page_sent,
    EventKind.PAGE_FAILED: Describer.page_failed,
    EventKind.PAGE_ACKED: Describer.page_acked,
    EventKind.ESCALATED: Describer.escalated,
    EventKind.ESCALATION_EXHAUSTED: Describer.escalation_exhausted,
    EventKind.REMINDER_SENT: Describer.reminder_sent,
    EventKind.REMINDER_SNOOZED: Describer.reminder_snoozed,
    EventKind.ALERT_RECEIVED: Describer.alert,
    EventKind.ALERT_RESOLVED: Describer.alert,
    EventKind.RUNBOOK_POSTED: Describer.runbook_posted,
    EventKind.RUNBOOK_STEP_RUN: Describer.runbook_step_run,
    EventKind.RUNBOOK_STEP_MARKED: Describer.runbook_step_marked,
    EventKind.RUNBOOK_STEP_APPROVAL: Describer.runbook_step_approval,
}
_HANDLERS.update(
    {
        str(kind): handler
        for kind, handler in (
            ("action_item_added", Describer.action_item_added),
            ("action_item_done", Describer.action_item_done),
            ("action_item_exported", Describer.action_item_exported),
            ("postmortem_in_review", Describer.postmortem_status),
            ("postmortem_reviewed", Describer.postmortem_status),
            ("postmortem_published", Describer.postmortem_status),
            ("postmortem_committed", Describer.postmortem_status),
        )
    }
)


# -- rows for the tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRow:
    time: str
    step: str
    params: str
    result: str
    exit_code: str
    duration: str
    who: str


def step_row(describer: Describer, event: TimelineEvent) -> StepRow:
    data = event.data
    who = describer.who(event.actor)
    time = describer.local(event.occurred_at, TIMELINE_TIME)
    if event.kind == EventKind.RUNBOOK_STEP_MARKED:
        state = md_inline(data.get("state") or "marked")
        return StepRow(time, describer.step_name(data), "—", f"ticked {state} by hand", "—", "—", who)
    verdict = "passed" if data.get("passed") else "**failed**"
    summary = md_cell(describer.text(data.get("summary") or ""))
    if data.get("timed_out"):
        summary = summary or "timed out"
    exit_code = data.get("exit_code")
    duration = seconds(data.get("duration_s"))
    return StepRow(
        time=time,
        step=describer.step_name(data),
        params=params_text(data.get("params")) or "—",
        result=f"{verdict}: {summary}" if summary else verdict,
        exit_code=str(exit_code) if isinstance(exit_code, int) else "—",
        duration=f"{duration.total_seconds():.1f} s" if duration is not None else "—",
        who=who + (f" (approved by {describer.who(data['approved_by'])})" if data.get("approved_by") else ""),
    )
