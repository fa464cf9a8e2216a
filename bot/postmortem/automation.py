"""What the bot did by itself and what changed, as post-mortem lines: workflow steps, a rollback watch's
breach and phases, the deploys before and during the incident, the suspected cause, custom fields.

Each function renders one event kind from the `data` its service stores (bot/services/workflows.py,
rollback.py, changes.py); `bot.postmortem.timeline` dispatches to them. The deploy rows of the
post-mortem's "What changed" table are read from the same events, so a deploy deleted since still shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.domain import EventKind, TimelineEvent
from bot.formatting.markdown import md_cell, md_inline, md_span

Parts = tuple[str, list[str], str]


class Names(Protocol):
    """What these renderers need of the post-mortem's describer."""

    def who(self, user: object) -> str: ...

    def text(self, value: object) -> str: ...

    def local(self, moment: datetime | None, fmt: str = ...) -> str: ...


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and not isinstance(value, bool) else "no data"


def _minutes(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "?"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _deploy(data: Mapping[str, Any]) -> str:
    text = f"**{md_inline(data.get('service') or '?')} {md_inline(data.get('version') or '?')}**"
    if data.get("previous"):
        text += f" (from {md_inline(data['previous'])})"
    canary = data.get("canary_percent")
    if isinstance(canary, int) and canary != 100:
        text += f" at canary {canary} %"
    return text


def params_text(params: Any) -> str:
    if not isinstance(params, Mapping) or not params:
        return ""
    return ", ".join(f"{md_inline(k)}={md_inline(v)}" for k, v in params.items())


def workflow_step(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    name = str(data.get("workflow") or "?")
    said = d.text(event.text).removeprefix(f"workflow {name}: ").removesuffix(" ✓").removesuffix(" ✗")
    mark = "✓" if data.get("ok") else "✗"
    details = ["a retry of an earlier failure"] if data.get("retry_of") else []
    return f"Workflow **{md_inline(name)}**: {md_inline(said)} {mark}", details, ""


def threshold_breached(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    side = f"> {data['above']:g}" if isinstance(data.get("above"), int | float) else ""
    if not side and isinstance(data.get("below"), int | float):
        side = f"< {data['below']:g}"
    what = f"Threshold breached after {_deploy(data)}: measured **{_value(data.get('value'))}**"
    details = [f"{md_span(data.get('expr') or '?')} {side} for {_minutes(data.get('for'))}"]
    return what, details, ""


_PHASES = {
    "armed": "Rollback watch armed",
    "requested": "Rollback requested",
    "asked": "Rollback asked of the Incident Commander",
    "suggested": "Rollback suggested",
    "verified": "Rollback verified",
    "not_cleared": "Rollback did **not** clear the threshold",
    "disarmed": "Rollback watch disarmed",
}


def rollback(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    phase = _PHASES.get(str(data.get("phase")), "Rollback")
    what = f"{phase}: {md_inline(d.text(event.text))}"
    details = []
    if isinstance(data.get("value"), int | float):
        details.append(f"measured {_value(data['value'])}")
    if params_text(data.get("params")):
        details.append(f"with {params_text(data['params'])}")
    return what, details, ""


def changes_posted(d: Names, event: TimelineEvent) -> Parts:
    deploys = [x for x in event.data.get("deploys") or [] if isinstance(x, Mapping)]
    return f"What changed: {len(deploys)} deploy(s) before the declaration, posted in the channel", [], ""


def change_suspected(d: Names, event: TimelineEvent) -> Parts:
    return f"Marked {_deploy(event.data)} as the **suspected cause**", [], ""


def deploy_recorded(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    state = md_inline(f"{data.get('environment') or '?'}, {data.get('status') or '?'}")
    return f"Deploy during the incident: {_deploy(data)} ({state})", [], ""


def field_set(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    return f"Field {md_span(data.get('field') or '?')} set to {md_span(data.get('value') or '')}", [], ""


def _minutes_of(seconds: Any) -> str:
    return _minutes(seconds) if isinstance(seconds, int | float) else "?"


def owner_team_told(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    team = md_inline(data.get("team") or data.get("channel") or "?")
    return f"Owner team of {md_inline(data.get('service') or '?')} told ({team})", [], ""


def service_targets(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    parts = [f"tier {data['tier']}" if data.get("tier") else None]
    parts += [f"RTO {_minutes_of(data['rto_seconds'])}" if data.get("rto_seconds") else None]
    parts += [f"RPO {_minutes_of(data['rpo_seconds'])}" if data.get("rpo_seconds") else None]
    parts += [f"SLA {data['sla']}" if data.get("sla") else None]
    shown = ", ".join(p for p in parts if p) or "none recorded"
    return (
        f"Service targets of {md_inline(data.get('service') or '?')} at declare: {md_inline(shown)}",
        [],
        "",
    )


def at_risk_added(d: Names, event: TimelineEvent) -> Parts:
    components = event.data.get("components") or []
    names = ", ".join(md_inline(c) for c in components) if isinstance(components, list) else "?"
    return f"Components at risk added to the status page draft: {names}", [], ""


def rto_breached(d: Names, event: TimelineEvent) -> Parts:
    data = event.data
    return (
        f"**RTO breached**: {md_inline(data.get('service') or '?')} down longer than its RTO "
        f"({_minutes_of(data.get('rto_seconds'))})",
        [],
        "",
    )


HANDLERS = {
    EventKind.OWNER_TEAM_TOLD.value: owner_team_told,
    EventKind.SERVICE_TARGETS.value: service_targets,
    EventKind.AT_RISK_ADDED.value: at_risk_added,
    EventKind.RTO_BREACHED.value: rto_breached,
    EventKind.WORKFLOW_STEP.value: workflow_step,
    EventKind.THRESHOLD_BREACHED.value: threshold_breached,
    EventKind.ROLLBACK.value: rollback,
    EventKind.CHANGES_POSTED.value: changes_posted,
    EventKind.CHANGE_SUSPECTED.value: change_suspected,
    EventKind.DEPLOY_RECORDED.value: deploy_recorded,
    EventKind.FIELD_SET.value: field_set,
}


@dataclass(frozen=True)
class ChangeRow:
    deployed: str
    deploy: str
    where: str
    commit: str
    note: str


def change_rows(events: list[TimelineEvent], d: Names) -> list[ChangeRow]:
    """Each deploy once, newest first: those posted as what changed, those during the incident, and the
    suspected cause marked."""
    seen: dict[Any, tuple[Mapping[str, Any], str]] = {}
    suspected: dict[Any, str] = {}
    for event in events:
        if event.kind == EventKind.CHANGES_POSTED:
            for deploy in event.data.get("deploys") or []:
                if isinstance(deploy, Mapping):
                    seen.setdefault(deploy.get("deploy_id"), (deploy, "before the incident"))
        elif event.kind == EventKind.DEPLOY_RECORDED:
            seen[event.data.get("deploy_id")] = (event.data, "during the incident")
        elif event.kind == EventKind.CHANGE_SUSPECTED:
            seen.setdefault(event.data.get("deploy_id"), (event.data, "before the incident"))
            suspected[event.data.get("deploy_id")] = d.who(event.actor)
    rows: list[tuple[datetime, ChangeRow]] = []
    for deploy_id, (data, when) in seen.items():
        at = _time(data.get("deployed_at"))
        marked = suspected.get(deploy_id)
        note = when + (f"; **suspected cause** (marked by {marked})" if marked else "")
        row = ChangeRow(
            deployed=d.local(at) if at else "—",
            deploy=_deploy(data),
            where=md_cell(f"{data.get('environment') or '?'}, {data.get('status') or '?'}"),
            commit=md_span(str(data["commit"])[:12]) if data.get("commit") else "—",
            note=note,
        )
        rows.append((at or datetime.min.replace(tzinfo=UTC), row))
    return [row for _, row in sorted(rows, key=lambda pair: pair[0], reverse=True)]


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
