"""What the catalog says in Slack: the summary's service lines with the RTO countdown, the owner team's
notice, the RTO breach, the offer to add dependents to the status page draft, and the service card."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.catalog.settings import TIERS, Component, Scenario
from bot.domain import Incident
from bot.formatting import escape_mrkdwn, human_duration, user_mention
from bot.messages import Message, button, context, header, section
from bot.settings import IncidentSettings
from bot.templating import slack_time

ACTION_ADD_AT_RISK = "catalog_add_at_risk"


def tier_text(component: Component) -> str:
    return f"Tier {component.tier} ({TIERS[component.tier]})" if component.tier else "No tier"


def rto_deadline(incident: Incident, component: Component) -> datetime | None:
    """The RTO counts from the declaration: by then the incident should be resolved."""
    return incident.created_at + component.rto if component.rto else None


def rto_text(incident: Incident, component: Component, config: IncidentSettings, now: datetime) -> str:
    """ "RTO 30 min · 12 min left (by 10:42)", "RTO 30 min · passed 5 min ago", "RTO 1 h met (40 min)"."""
    due = rto_deadline(incident, component)
    if due is None or component.rto is None:
        return "No RTO"
    rto = f"RTO {human_duration(component.rto)}"
    taken = incident.time_to_resolve()
    if taken is not None:
        verdict = "met" if taken <= component.rto else f"*missed* by {human_duration(taken - component.rto)}"
        return f"{rto} {verdict} (resolved in {human_duration(taken)})"
    if now >= due:
        return f":warning: {rto} · *passed {human_duration(now - due)} ago* ({slack_time(due, config)})"
    return f"{rto} · {human_duration(due - now)} left (by {slack_time(due, config)})"


def targets_text(component: Component) -> str:
    """ "tier 1 (critical) · RTO 30 min · RPO 15 min · SLA 99.9 %" (what the component promises)."""
    parts = [tier_text(component).lower(), rto_plain(component)]
    parts += [f"RPO {human_duration(component.rpo)}"] if component.rpo is not None else []
    parts += [f"SLA {component.sla:g} %"] if component.sla is not None else []
    return " · ".join(parts)


def summary_lines(
    incident: Incident,
    component: Component,
    dependencies: Sequence[str],
    dependents: Sequence[str],
    config: IncidentSettings,
    now: datetime,
) -> list[str]:
    facts = [tier_text(component), rto_text(incident, component, config, now)]
    if component.rpo is not None:
        facts.append(f"RPO {human_duration(component.rpo)}")
    if component.sla is not None:
        facts.append(f"SLA {component.sla:g} %")
    lines = [f":jigsaw: *{escape_mrkdwn(component.title)}* · " + " · ".join(facts)]
    graph = []
    if dependencies:
        graph.append(f"depends on {', '.join(_names(dependencies, config))}")
    if dependents:
        graph.append(f"also at risk: {', '.join(_names(dependents, config))}")
    if graph:
        lines.append(":link: " + " · ".join(graph))
    return lines


def _names(ids: Sequence[str], config: IncidentSettings) -> list[str]:
    return [escape_mrkdwn(s.name if (s := config.service(i)) else i) for i in ids]


def owner_notice(incident: Incident, component: Component, config: IncidentSettings) -> Message:
    """One message in the owner team's channel: which incident, on what, and where to join."""
    team = escape_mrkdwn(component.owner.team) if component.owner else "your team"
    if incident.private:  # the title stays with the invited; the team learns whom to ask
        what = "a private incident"
        join = f"Ask {user_mention(incident.commander)} (Incident Commander) to be invited."
    else:
        what = escape_mrkdwn(incident.title)
        join = f"Join <#{incident.channel_id}>." if incident.channel_id else "Its channel is being created."
    text = (
        f":rotating_light: {incident.reference} ({escape_mrkdwn(incident.severity)}) on "
        f"*{escape_mrkdwn(component.title)}*, which {team} owns: {what}. {join}"
    )
    return Message(text, [section(text), context(f"{tier_text(component)} · {rto_plain(component)}")])


def rto_plain(component: Component) -> str:
    return f"RTO {human_duration(component.rto)}" if component.rto else "No RTO"


def rto_breach(incident: Incident, component: Component, now: datetime) -> str:
    """The breach as one sentence: the channel post and what the management audience is told."""
    open_for = human_duration(now - incident.created_at)
    return (
        f"The RTO of {human_duration(component.rto)} for {component.title} ({tier_text(component).lower()}) "
        f"has passed: {incident.reference} has been open for {open_for} and is not resolved."
    )


def rto_soon(incident: Incident, component: Component, config: IncidentSettings, now: datetime) -> str:
    due = rto_deadline(incident, component)
    assert due is not None
    return (
        f":hourglass_flowing_sand: The RTO of {human_duration(component.rto)} for "
        f"*{escape_mrkdwn(component.title)}* passes in {human_duration(due - now)} "
        f"({slack_time(due, config)}); {incident.reference} is not resolved."
    )


def at_risk_offer(incident: Incident, component: Component, dependents: dict[str, str]) -> Message:
    """Offer to add the dependents' status page components to the public update's draft."""
    shown = ", ".join(escape_mrkdwn(name) for name in dependents.values())
    text = (
        f":link: {shown} depend on *{escape_mrkdwn(component.title)}*. "
        "Add them to the status page draft as affected components?"
    )
    value = f"{incident.id}:{','.join(dependents)}"
    return Message(
        text,
        [
            section(text),
            {"type": "actions", "elements": [button("Add to the draft", ACTION_ADD_AT_RISK, value)]},
        ],
    )


@dataclass
class Card:
    """Everything `/incident service <name>` shows, gathered by the service, formatted here."""

    component: Component
    on_call: list[str] = field(default_factory=list)
    """"Primary on-call: <@U1> (until Mon 09:00)"."""
    slos: list[str] = field(default_factory=list)
    """One line per SLO with its budget left, or why it is not known."""
    runbooks: list[str] = field(default_factory=list)
    open_incidents: list[Incident] = field(default_factory=list)
    deploys: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)
    scenarios: list[Scenario] = field(default_factory=list)


def service_card(card: Card, config: IncidentSettings) -> Message:
    c = card.component
    owner = "—"
    if c.owner:
        parts = [escape_mrkdwn(c.owner.team)]
        parts += [f"<#{c.owner.slack_channel}>"] if c.owner.slack_channel else []
        parts += [f"<!subteam^{c.owner.usergroup}>"] if c.owner.usergroup else []
        owner = " · ".join(parts)
    lines = [
        f"*Owner:* {owner}",
        f"*On call:* {'; '.join(card.on_call) or 'no schedule'}",
        f"*Targets:* {targets_text(c)}",
        f"*SLOs:* {'; '.join(card.slos) or 'none'}",
        f"*Runbooks:* {', '.join(f'`{r}`' for r in card.runbooks) or 'none'}",
        f"*Depends on:* {', '.join(_names(card.dependencies, config)) or 'nothing known'}",
        f"*Depended on by:* {', '.join(_names(card.dependents, config)) or 'nothing known'}",
    ]
    incidents = [
        f"{i.reference} {'(private)' if i.private else escape_mrkdwn(i.title)} ({i.severity}, {i.status})"
        for i in card.open_incidents
    ]
    lines.append(f"*Open incidents:* {'; '.join(incidents) or 'none'}")
    lines.append(f"*Recent deploys:* {'; '.join(card.deploys) or 'none recorded'}")
    blocks = [header(f"{c.title}"), section("\n".join(lines))]
    if card.scenarios:
        shown = [f"{escape_mrkdwn(s.name)} (RTO {human_duration(s.rto)})" for s in card.scenarios]
        blocks.append(context("Failure scenarios: " + "; ".join(shown)))
    facts = [c.system or "", c.lifecycle, *(f"{k}: {v}" for k, v in c.annotations.items())]
    blocks.append(context(escape_mrkdwn(" · ".join(f for f in facts if f))))
    return Message(f"{c.title}: {tier_text(c)}, {rto_plain(c)}", blocks)


def unknown_service(name: str, known: Sequence[str]) -> str:
    listed = ", ".join(f"`{k}`" for k in known) or "none configured"
    if not name:
        return f"Usage: `/incident service <name>`. Known services: {listed}."
    return f"No service {escape_mrkdwn(name)!r} in the catalog. Known services: {listed}."


def on_call_line(
    schedule_name: str, user: str | None, until: datetime | None, config: IncidentSettings
) -> str:
    if user is None:
        return f"{escape_mrkdwn(schedule_name)}: nobody"
    end = f" (until {slack_time(until, config)})" if until else ""
    return f"{escape_mrkdwn(schedule_name)}: {user_mention(user)}{end}"


def budget_line(slo_id: str, remaining: float | None, problem: str | None) -> str:
    if problem:
        return f"{slo_id}: {escape_mrkdwn(problem)}"
    if remaining is None:
        return f"{slo_id}: no data"
    return f"{slo_id}: {remaining:.1%} budget left"
