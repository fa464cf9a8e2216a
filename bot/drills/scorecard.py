"""A drill's scorecard, from its timeline alone: each target against what was measured, the communication
deadlines, the runbook steps run, the injects, and what went well and what to practise.

Times count from the drill's start (its declaration). The score is the share of targets met, a deadline
of the communication plan counting as one more target; a target never reached counts as missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import AudienceRecord, EventKind, Incident, TimelineEvent
from bot.drills.scenario import Scenario
from bot.formatting import human_duration

COMMANDER = "incident_commander"
UPDATE_AUDIENCES = ("channel", "update")
"""`first_update` keys measured by the first status update posted (the others by the plan's records)."""


@dataclass(frozen=True)
class Result:
    what: str
    target: timedelta | None
    measured: timedelta | None

    @property
    def met(self) -> bool:
        return self.measured is not None and (self.target is None or self.measured <= self.target)

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "not done"
        if self.target is None:
            return "done"
        return "met" if self.met else "missed"


@dataclass(frozen=True)
class Scorecard:
    scenario: str
    title: str
    reference: str
    started: datetime
    ended: datetime | None
    results: tuple[Result, ...]
    deadlines: tuple[tuple[str, str], ...]
    """(audience, met / missed / not needed) of the communication plan."""
    steps: tuple[tuple[str, bool], ...]
    """(runbook step, passed) in the order run."""
    injects: tuple[str, ...]
    participants: tuple[str, ...]

    @property
    def score(self) -> int:
        counted = [r.met for r in self.results if r.target is not None]
        counted += [verdict == "met" for _, verdict in self.deadlines if verdict != "not needed"]
        return round(100 * sum(counted) / len(counted)) if counted else 100

    @property
    def went_well(self) -> list[str]:
        found = [f"{r.what} in {human_duration(r.measured)}" for r in self.results if r.target and r.met]
        found += [f"{audience} told on time" for audience, verdict in self.deadlines if verdict == "met"]
        found += [f"runbook step {step} passed" for step, passed in self.steps if passed]
        return found

    @property
    def practise(self) -> list[str]:
        found = []
        for r in self.results:
            if r.target is None or r.met:
                continue
            took = f"took {human_duration(r.measured)}" if r.measured is not None else "never done"
            found.append(f"{r.what}: {took}, the target is {human_duration(r.target)}")
        found += [
            f"tell {audience} by its deadline" for audience, verdict in self.deadlines if verdict == "missed"
        ]
        found += [
            f"runbook step {step} failed: know what to do next" for step, passed in self.steps if not passed
        ]
        return found


def _after(events: Sequence[TimelineEvent], start: datetime, *kinds: EventKind) -> timedelta | None:
    return next((e.occurred_at - start for e in events if e.kind in kinds), None)


def _commander(events: Sequence[TimelineEvent], start: datetime, bot: str | None) -> timedelta | None:
    for e in events:
        if (
            e.kind == EventKind.ROLE_ASSIGNED
            and e.data.get("role") == COMMANDER
            and e.data.get("user") != bot
        ):
            return e.occurred_at - start
    return None


def score(
    scenario: Scenario,
    incident: Incident,
    events: Sequence[TimelineEvent],
    records: Sequence[AudienceRecord],
    bot: str | None,
    participants: Sequence[str] = (),
) -> Scorecard:
    start, targets = incident.created_at, scenario.targets
    results = [
        Result("acknowledged", targets.acknowledge, _after(events, start, EventKind.PAGE_ACKED)),
        Result("Incident Commander assigned", targets.commander, _commander(events, start, bot)),
    ]
    told = {r.audience: r.first_told for r in records}
    for audience, target in targets.first_update.items():
        if audience in UPDATE_AUDIENCES:
            measured = _after(events, start, EventKind.UPDATE_POSTED)
        else:
            measured = told[audience] - start if told.get(audience) else None
        results.append(Result(f"first update to {audience}", target, measured))
    step_kinds = (EventKind.RUNBOOK_STEP_RUN, EventKind.RUNBOOK_STEP_MARKED)
    results.append(Result("first runbook step", targets.runbook_step, _after(events, start, *step_kinds)))
    resolved = incident.resolved_at - start if incident.resolved_at else None
    results.append(Result("resolved", targets.resolve, resolved))
    deadlines = tuple(
        (r.audience, "not needed" if r.waived is not None else "missed" if r.missed_first else "met")
        for r in records
        if r.first_due is not None
    )
    steps = tuple(
        (str(e.data.get("step") or "?"), bool(e.data.get("passed")))
        for e in events
        if e.kind == EventKind.RUNBOOK_STEP_RUN
    )
    injects = tuple(str(e.data.get("inject") or e.text) for e in events if e.kind == EventKind.DRILL_INJECT)
    return Scorecard(
        scenario.name,
        scenario.title,
        incident.reference,
        start,
        incident.resolved_at,
        tuple(results),
        deadlines,
        steps,
        injects,
        tuple(participants),
    )


def markdown(card: Scorecard, local: str) -> str:
    """The scorecard written next to the post-mortems (`local`: the start, in the config's zone)."""
    lines = [
        f"# Drill scorecard: {card.title} ({card.scenario}) — {card.reference}",
        "",
        f"DRILL — not a real incident. Started {local}; score **{card.score} %** of targets met.",
        "",
        "| Target | Expected within | Measured | Verdict |",
        "| --- | ---: | ---: | --- |",
    ]
    for r in card.results:
        expected = human_duration(r.target) if r.target is not None else "—"
        measured = human_duration(r.measured) if r.measured is not None else "—"
        lines.append(f"| {r.what} | {expected} | {measured} | {r.verdict} |")
    lines += ["", "## Communication deadlines", ""]
    lines += [f"- {audience}: {verdict}" for audience, verdict in card.deadlines] or ["- none were due"]
    lines += ["", "## Runbook steps run", ""]
    lines += [f"- {step}: {'passed' if ok else 'failed'}" for step, ok in card.steps] or ["- none"]
    lines += ["", "## Injects", ""]
    lines += [f"- {inject}" for inject in card.injects] or ["- none fired"]
    lines += ["", "## What went well", ""]
    lines += [f"- {item}" for item in card.went_well] or ["- nothing measured went to plan"]
    lines += ["", "## What to practise", ""]
    lines += [f"- {item}" for item in card.practise] or ["- every target was met"]
    return "\n".join(lines) + "\n"


_MARKS = {
    "met": ":white_check_mark:",
    "missed": ":x:",
    "not done": ":heavy_minus_sign:",
    "done": ":ballot_box_with_check:",
}


def slack_text(card: Scorecard, written: str | None) -> str:
    """The scorecard in the drill's channel (Slack shows no Markdown tables)."""
    lines = [f"*Drill scorecard: {card.title}* (`{card.scenario}`) — *{card.score} %* of targets met"]
    for r in card.results:
        took = human_duration(r.measured) if r.measured is not None else "never"
        target = f" (target {human_duration(r.target)})" if r.target is not None else ""
        lines.append(f"{_MARKS[r.verdict]} {r.what}: {took}{target}")
    lines += [f"{_MARKS.get(v, '')} {audience} told by its deadline: {v}" for audience, v in card.deadlines]
    if card.went_well:
        lines.append("*Went well:* " + "; ".join(card.went_well))
    if card.practise:
        lines.append("*To practise:* " + "; ".join(card.practise))
    if written:
        lines.append(f"Written to `{written}` beside the post-mortems.")
    return "\n".join(lines)
