"""The hand-off summary and the rota messages: what the outgoing person tells the incoming one, written
by the bot from its own record (the pages it sent, the incidents, the follow-ups, the alerts), plus the
week ahead. Pure Block Kit builders; the service loads what they show."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain import Incident
from bot.formatting import escape_mrkdwn, human_duration
from bot.messages import Message, button, context, header, section, truncate
from bot.oncall.rota import Move
from bot.oncall.rota_store import NoisyAlert, PageRecord
from bot.oncall.schedules import Schedule, Shift

ACTION_SWAP_ACCEPT = "oncall_swap_accept"
ACTION_SWAP_DECLINE = "oncall_swap_decline"
LIST_LIMIT = 15
"""Lines per list in a summary; more are counted (a section holds 3000 characters)."""


def when(moment: datetime, zone: ZoneInfo) -> str:
    """A Slack date token each reader sees in their zone; the schedule's zone as its fallback text."""
    local = moment.astimezone(zone)
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{local:%a %d %b %H:%M %Z}>"


@dataclass(frozen=True)
class FollowUp:
    """An open action item, as the hand-off lists it (the post-mortem package owns the real thing)."""

    incident_id: int
    text: str
    owner: str | None
    due: date | None


@dataclass(frozen=True)
class HandoffFacts:
    schedule: Schedule
    outgoing: Shift | None
    incoming: Shift | None
    pages: list[PageRecord]
    incidents: list[Incident]
    open_actions: list[FollowUp]
    noisy: list[NoisyAlert]
    escalating: list[Incident]
    week_ahead: list[Shift]


def _listed(lines: list[str], empty: str) -> str:
    if not lines:
        return empty
    more = f"\n…and {len(lines) - LIST_LIMIT} more" if len(lines) > LIST_LIMIT else ""
    return "\n".join(lines[:LIST_LIMIT]) + more


def handoff_summary(facts: HandoffFacts) -> Message:
    zone = facts.schedule.zone
    name = escape_mrkdwn(facts.schedule.name)
    out = f"<@{facts.outgoing.user}>" if facts.outgoing else "nobody"
    into = f"<@{facts.incoming.user}>" if facts.incoming else "nobody"
    at = facts.incoming.start if facts.incoming else facts.outgoing.end if facts.outgoing else None
    shift = (
        f"{when(facts.outgoing.start, zone)} – {when(facts.outgoing.end, zone)}" if facts.outgoing else "—"
    )
    pages = [
        f"• {when(p.sent_at, zone)} <@{p.target}> INC-{p.incident_id}: "
        + (f"acked after {human_duration(p.acked_at - p.sent_at)}" if p.acked_at else "*not acknowledged*")
        for p in facts.pages
    ]
    incidents = [
        f"• *{i.reference}* {escape_mrkdwn(truncate(i.title, 120))} ({i.severity}, {i.status})"
        + (f" <#{i.channel_id}>" if i.channel_id else "")
        for i in facts.incidents
    ]
    actions = [
        f"• INC-{a.incident_id}: {escape_mrkdwn(truncate(a.text, 140))}"
        + (f" — <@{a.owner}>" if a.owner else "")
        + (f", due {a.due:%d %b}" if a.due else "")
        for a in facts.open_actions
    ]
    noisy = [
        f"• {a.notifications}× `{escape_mrkdwn(truncate(a.group_key, 120))}`"
        + (f" → INC-{a.incident_id}" if a.incident_id else "")
        for a in facts.noisy
    ]
    escalating = [f"• *{i.reference}* {escape_mrkdwn(truncate(i.title, 120))}" for i in facts.escalating]
    rota = [f"• {when(s.start, zone)} – {when(s.end, zone)}: <@{s.user}>" for s in facts.week_ahead]
    acked = [p for p in facts.pages if p.acked_at]
    tally = Counter(p.target for p in facts.pages)
    blocks = [
        header(f"Hand-off: {facts.schedule.name}"[:150]),
        section(
            f"*{name}* passes from {out} to {into}"
            + (f" at {when(at, zone)}" if at else "")
            + f".\nOutgoing shift: {shift}"
        ),
        section(
            f"*Pages ({len(facts.pages)}, {len(acked)} acknowledged)*\n"
            + _listed(pages, "_No pages this shift._")
        ),
        section(f"*Incidents ({len(incidents)})*\n" + _listed(incidents, "_No incidents this shift._")),
        section(f"*Open follow-ups ({len(actions)})*\n" + _listed(actions, "_None open._")),
        section("*Noisiest alerts*\n" + _listed(noisy, "_No alerts this shift._")),
        section("*Still escalating*\n" + _listed(escalating, "_Nothing: every page was answered._")),
        section("*The next 7 days*\n" + _listed(rota, "_Nobody is on call._")),
        context("Pages by person: " + (", ".join(f"<@{u}> {n}" for u, n in tally.most_common()) or "none")),
    ]
    text = f"Hand-off of {facts.schedule.name}: {out} → {into}, {len(facts.pages)} pages"
    return Message(text, blocks)


def swap_request(change_id: int, asker: str, schedules: list[str], pieces_text: str) -> Message:
    text = f"<@{asker}> asks you to take their on-call time ({', '.join(schedules)}):\n{pieces_text}"
    return Message(
        f"<@{asker}> asks you to take their on-call time",
        [
            section(text[:3000]),
            {
                "type": "actions",
                "block_id": "oncall_swap",
                "elements": [
                    button("Accept", ACTION_SWAP_ACCEPT, str(change_id), style="primary"),
                    button("Decline", ACTION_SWAP_DECLINE, str(change_id)),
                ],
            },
        ],
    )


def moves_text(moves: list[Move], zones: dict[str, ZoneInfo]) -> str:
    return "\n".join(
        f"• {m.schedule_id}: {when(m.start, zones[m.schedule_id])} – {when(m.end, zones[m.schedule_id])}"
        f" {_who(m.old)} → {_who(m.new)}"
        for m in moves[:LIST_LIMIT]
    )


def _day_and_span(move: Move, zone: ZoneInfo) -> str:
    return f"{move.start.astimezone(zone):%d %b} ({when(move.start, zone)} – {when(move.end, zone)})"


def moved_dm(move: Move, zone: ZoneInfo, name: str) -> str:
    """What one person reads when their future shift moved ("your shift on 14 Dec moved to Dave")."""
    return f"Your {escape_mrkdwn(name)} shift on {_day_and_span(move, zone)} moved to {_who(move.new)}."


def taken_dm(move: Move, zone: ZoneInfo, name: str) -> str:
    span = _day_and_span(move, zone)
    return f"You are now on call for {escape_mrkdwn(name)} on {span}, instead of {_who(move.old)}."


def _who(user: str | None) -> str:
    return f"<@{user}>" if user else "nobody"
