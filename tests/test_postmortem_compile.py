"""The post-mortem compiled from a hand-built timeline: every event, local times, figures read off events.

The incident straddles the switch to summer time in Europe/Berlin (2026-03-29 01:00 UTC: 02:00 CET becomes
03:00 CEST), so a timestamp converted with a fixed offset would show up wrong.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import AppConfig, Service
from bot.config.checks import template_problems
from bot.domain import EventKind, Incident, TimelineEvent
from bot.formatting.markdown import slack_plain
from bot.postmortem.compile import compile_postmortem
from bot.postmortem.facts import NARRATIVE, Facts, file_name
from bot.postmortem.figures import BudgetChange, budget_consumed
from bot.postmortem.store import ActionItem
from bot.postmortem.summary import summary_message
from bot.standin.blockkit import validate_message
from bot.templating import Templates

DECLARED = datetime(2026, 3, 29, 0, 40, tzinfo=UTC)  # 01:40 CET, twenty minutes before the switch
PERMALINK = "https://example.slack.com/archives/C0INC12/p1774746300000100"
ALICE, BOB, CAROL = "U0ALICE000", "U0BOB00000", "U0CAROL000"


def utc(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 29, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def config() -> AppConfig:
    return AppConfig(timezone="Europe/Berlin", services=[Service(id="checkout", name="Checkout")])


def make_incident(**changes: Any) -> Incident:
    values: dict[str, Any] = {
        "id": 12,
        "title": "Checkout is down",
        "severity": "SEV1",
        "status": "resolved",
        "summary": "Card payments fail for every customer.",
        "service": "checkout",
        "private": False,
        "reporter": ALICE,
        "created_at": DECLARED,
        "channel_id": "C0INC12",
        "channel_name": "inc-20260329-12-checkout-is-down",
        "resolved_at": utc(1, 40),
        "resolution": "Rolled back deploy 1234 and drained the bad pods.",
        "roles": {"incident_commander": BOB, "scribe": CAROL},
    }
    values.update(changes)
    return Incident(**values)


def slo(slo_id: str, remaining: float | None, error: str | None = None, at: datetime | None = None) -> dict:
    return {
        "id": slo_id,
        "service": "checkout",
        "objective": 0.995,
        "error": error,
        "error_ratio": None if remaining is None else (1 - remaining) * 0.005,
        "sli": None if remaining is None else 1 - (1 - remaining) * 0.005,
        "budget_remaining": remaining,
        "burn_rates": {"1h": 14.4 if remaining is not None else None},
        "alert": "page" if remaining is not None else "no data",
        "at": (at or DECLARED).isoformat(),
    }


ALERT = {
    "alertname": "CheckoutErrorRate",
    "summary": "5xx ratio above 5 % on checkout",
    "status": "firing",
    "firing": 3,
    "resolved": 0,
    "truncated": 0,
    "new": 3,
    "labels": {"service": "checkout", "severity": "page"},
    "instances": [],
    "generator_url": "https://prometheus.example.com/graph?g0.expr=x",
    "runbook": "high-error-rate",
    "external_url": None,
    "group_key": '{}:{alertname="CheckoutErrorRate"}',
    "starts_at": "2026-03-29T00:31:00+00:00",
}

# (UTC time, kind, actor, text, data) — one or more of every kind, in time order
SCRIPT: list[tuple[datetime, EventKind, str | None, str, dict[str, Any]]] = [
    (
        utc(0, 38),
        EventKind.ALERT_RECEIVED,
        None,
        "CheckoutErrorRate is firing",
        {"change": "opened", "alert": ALERT},
    ),
    (
        DECLARED,
        EventKind.DECLARED,
        ALICE,
        "Checkout is down",
        {"severity": "SEV2", "status": "investigating", "summary": "Card payments fail.", "commander": ALICE},
    ),
    (
        utc(0, 40, 5),
        EventKind.CHANNEL_CREATED,
        None,
        "inc-20260329-12-checkout-is-down",
        {"name": "inc-20260329-12-checkout-is-down"},
    ),
    (
        utc(0, 40, 10),
        EventKind.SLO_SNAPSHOT,
        None,
        "SLO snapshot at declared",
        {
            "moment": "declared",
            "problem": None,
            "slos": [slo("checkout/availability", 0.62), slo("checkout/latency", 0.9)],
        },
    ),
    (
        utc(0, 41),
        EventKind.PAGE_SENT,
        None,
        f"paged <@{BOB}>",
        {"user": BOB, "provider": "slack", "reason": "on call for Primary, step 1 of the SEV2 policy"},
    ),
    (
        utc(0, 41, 2),
        EventKind.PAGE_FAILED,
        None,
        "opsgenie trigger failed: HTTP 503",
        {"provider": "opsgenie", "action": "trigger"},
    ),
    (utc(0, 46), EventKind.ESCALATED, ALICE, "escalated by hand", {"step": 2}),
    (utc(0, 50), EventKind.ESCALATION_EXHAUSTED, None, "SEV2 policy exhausted", {}),
    (
        utc(0, 52),
        EventKind.PAGE_ACKED,
        BOB,
        "acknowledged",
        {
            "user": BOB,
            "via": "slack",
            "time_to_acknowledge_seconds": 720.0,
            "target_seconds": 900.0,
            "target_met": True,
        },
    ),
    (
        utc(0, 55),
        EventKind.SEVERITY_CHANGED,
        BOB,
        "SEV2 → SEV1",
        {"from": "SEV2", "to": "SEV1", "direction": "up"},
    ),
    (
        utc(0, 57),
        EventKind.ROLE_ASSIGNED,
        ALICE,
        f"incident_commander → {BOB}",
        {"role": "incident_commander", "user": BOB, "previous": ALICE, "handover": True},
    ),
    (
        utc(0, 57, 30),
        EventKind.ROLE_ASSIGNED,
        BOB,
        f"scribe → {CAROL}",
        {"role": "scribe", "user": CAROL, "previous": None, "handover": False},
    ),
    (
        utc(0, 58, 30),
        EventKind.UPDATE_POSTED,
        BOB,
        "Payments API returns 502",
        {
            "status": "investigating",
            "known": "Payments API returns 502 | since deploy 1234\nQueue is backing up",
            "doing": "Rolling back",
            "next_update_minutes": 30,
            "rendered": {},
        },
    ),
    (
        utc(0, 59),
        EventKind.NOTE_ADDED,
        CAROL,
        "<!channel> look at *this* | now\n# not a heading",
        {"permalink": None, "author": CAROL},
    ),
    (
        utc(1, 0),
        EventKind.STATUS_CHANGED,
        BOB,
        "investigating → identified",
        {"from": "investigating", "to": "identified"},
    ),
    (
        utc(1, 5),
        EventKind.MESSAGE_PINNED,
        BOB,
        f"Deploy 1234 rolled out at 01:30\n<@{CAROL}> can you check &lt;db&gt;? <!channel>",
        {"permalink": PERMALINK, "author": CAROL},
    ),
    (
        utc(1, 10),
        EventKind.REMINDER_SENT,
        None,
        "no status update for 11 min",
        {"since": utc(0, 58, 30).isoformat(), "interval_seconds": 1800},
    ),
    (
        utc(1, 11),
        EventKind.REMINDER_SNOOZED,
        BOB,
        "update reminder snoozed",
        {"until": utc(1, 41).isoformat()},
    ),
    (
        utc(1, 12),
        EventKind.RUNBOOK_POSTED,
        BOB,
        "posted runbook high-error-rate",
        {"runbook": "high-error-rate", "run_id": 7},
    ),
    (
        utc(1, 13),
        EventKind.RUNBOOK_STEP_APPROVAL,
        CAROL,
        "asked to run rollback",
        {
            "runbook": "high-error-rate",
            "step": "rollback",
            "params": {"version": "1233"},
            "decision": "requested",
        },
    ),
    (
        utc(1, 14),
        EventKind.RUNBOOK_STEP_APPROVAL,
        BOB,
        "approved rollback",
        {"runbook": "high-error-rate", "step": "rollback", "requested_by": CAROL, "decision": "approved"},
    ),
    (
        utc(1, 15),
        EventKind.RUNBOOK_STEP_RUN,
        CAROL,
        "Roll back the deploy: exit 0 in 42.5 s",
        {
            "runbook": "high-error-rate",
            "run_id": 7,
            "step": "rollback",
            "title": "Roll back the deploy",
            "kind": "command",
            "params": {"version": "1233"},
            "approved_by": BOB,
            "output_attached": False,
            "passed": True,
            "summary": "exit 0 in 42.5 s",
            "exit_code": 0,
            "timed_out": False,
            "duration_s": 42.5,
            "output": "deployment.apps/checkout rolled back to 1233\n```not closing```",
            "output_bytes": 60,
            "truncated": False,
        },
    ),
    (
        utc(1, 16),
        EventKind.RUNBOOK_STEP_RUN,
        BOB,
        "Error ratio below 5 %: failed",
        {
            "runbook": "high-error-rate",
            "run_id": 7,
            "step": "error-ratio",
            "title": "Error ratio below 5 %",
            "kind": "check",
            "params": {},
            "passed": False,
            "summary": "value 0.09, needs < 0.05",
            "duration_s": 0.3,
            "output": "",
        },
    ),
    (
        utc(1, 18),
        EventKind.RUNBOOK_STEP_MARKED,
        CAROL,
        "done tell-support",
        {"runbook": "high-error-rate", "step": "tell-support", "state": "done"},
    ),
    (
        utc(1, 20),
        EventKind.STATUS_CHANGED,
        BOB,
        "identified → monitoring",
        {"from": "identified", "to": "monitoring"},
    ),
    (
        utc(1, 21),
        EventKind.INTEGRATION_FAILED,
        None,
        "could not update the announcement: channel_not_found",
        {"step": "update the announcement", "error": "channel_not_found"},
    ),
    (
        utc(1, 25),
        EventKind.ALERT_RESOLVED,
        None,
        "CheckoutErrorRate resolved",
        {"change": "resolved", "alert": {**ALERT, "status": "resolved", "firing": 0}},
    ),
    (
        utc(1, 30),
        EventKind.SLO_SNAPSHOT,
        None,
        "SLO snapshot at resolved",
        {"moment": "resolved", "problem": None, "slos": [slo("checkout/availability", 0.55, at=utc(1, 30))]},
    ),
    (
        utc(1, 30, 1),
        EventKind.RESOLVED,
        BOB,
        "Rolled back deploy 1234.",
        {"from": "monitoring", "time_to_resolve_seconds": 3001.0},
    ),
    (utc(1, 33), EventKind.REOPENED, BOB, "reopened", {}),
    (
        utc(1, 40),
        EventKind.SLO_SNAPSHOT,
        None,
        "SLO snapshot at resolved",
        {
            "moment": "resolved",
            "problem": None,
            "slos": [
                slo("checkout/availability", 0.50, at=utc(1, 40)),
                slo("checkout/latency", None, error="Prometheus unreachable (timeout)", at=utc(1, 40)),
            ],
        },
    ),
    (
        utc(1, 40),
        EventKind.RESOLVED,
        BOB,
        "Rolled back deploy 1234 and drained the bad pods.",
        {"from": "investigating", "time_to_resolve_seconds": 3600.0},
    ),
    (
        utc(1, 45),
        EventKind.ACTION_ITEM_ADDED,
        BOB,
        "Canary deploys for checkout",
        {"item_id": 1, "owner": CAROL, "due": "2026-04-10"},
    ),
    (utc(1, 50), EventKind.ACTION_ITEM_DONE, CAROL, "Alert on queue depth", {"item_id": 2}),
    (utc(2, 0), EventKind.POSTMORTEM_REVIEWED, BOB, "reviewed", {}),
]


def make_events(script: list = SCRIPT) -> list[TimelineEvent]:
    return [
        TimelineEvent(n, 12, kind, actor, at, text, data)
        for n, (at, kind, actor, text, data) in enumerate(script, start=1)
    ]


def make_actions() -> list[ActionItem]:
    created = utc(1, 45)
    return [
        ActionItem(
            1, 12, "Canary deploys for checkout", CAROL, date(2026, 4, 10), "open", BOB, created, None, None
        ),
        ActionItem(
            2, 12, "Alert on queue depth", ALICE, date(2026, 3, 30), "done", BOB, created, utc(1, 50), CAROL
        ),
        ActionItem(
            3, 12, "Write the deploy checklist", None, date(2026, 3, 1), "open", BOB, created, None, None
        ),
    ]


def make_facts(config: AppConfig, **changes: Any) -> Facts:
    events = make_events()
    random.Random(7).shuffle(events)  # the store hands them in order; the compiler must not rely on it
    values: dict[str, Any] = {
        "incident": make_incident(),
        "events": events,
        "narrative": {
            "summary": "A bad deploy broke card payments for an hour.",
            "root_cause": "The deploy changed the payment client's timeout.",
            "whys": ["The client timed out.", "", "Nobody reviewed the config change."],
        },
        "actions": make_actions(),
        "config": config,
        "now": utc(9, 0),
    }
    values.update(changes)
    return Facts(**values)


def section_of(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def table_rows(text: str) -> list[list[str]]:
    """Cells of every table row, split on unescaped pipes only (as a GFM renderer does)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


# -- the document -------------------------------------------------------------------------------------


def test_timeline_lists_every_event_in_order_with_local_times(config: AppConfig) -> None:
    markdown = compile_postmortem(make_facts(config), Templates(config))

    timeline = section_of(markdown, "Detailed timeline")
    items = re.findall(r"^- \*\*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+)\*\* · ([^·]+) · (.*)$", timeline, re.M)
    assert len(items) == len(SCRIPT)
    zone = config.zone
    assert [time for time, _, _ in items] == [
        at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") for at, *_ in SCRIPT
    ]
    # either side of the switch to summer time, written out by hand
    times = [time for time, _, _ in items]
    assert "2026-03-29 01:40:00 CET" in times  # declared, 00:40 UTC
    assert "2026-03-29 01:59:00 CET" in times  # the note, 00:59 UTC
    assert "2026-03-29 03:05:00 CEST" in times  # the pin, 01:05 UTC
    assert "2026-03-29 03:40:00 CEST" in times  # resolved, 01:40 UTC
    assert "_35 events, in order; times in Europe/Berlin._" in timeline

    whats = [what for _, _, what in items]
    expected_starts = [
        "Alert **CheckoutErrorRate** firing (3 alerts)",
        "Declared as **SEV2 · Major** (Investigating): Checkout is down",
        "Incident channel #inc-20260329-12-checkout-is-down created",
        "SLO snapshot at declaration",
        "Paged **@U0BOB00000** (on call for Primary, step 1 of the SEV2 policy)",
        "Page failed: opsgenie trigger failed: HTTP 503",
        "Escalated by hand to step 2",
        "Escalation policy ran out",
        "Page acknowledged by **@U0BOB00000** — time to acknowledge 12 min (target 15 min: met)",
        "Severity raised: SEV2 · Major → **SEV1 · Critical**",
        "Incident Commander handed over from @U0ALICE000 to **@U0BOB00000**",
        "**@U0CAROL000** is now Scribe",
        "Status update posted (Investigating)",
        "Note:",
        "Status changed: Investigating → **Identified**",
        "Pinned a message by @U0CAROL000 ([permalink](" + PERMALINK + ")):",
        "Update reminder: no status update for 11 min",
        "Update reminder snoozed until 2026-03-29 03:41 CEST",
        "Runbook high-error-rate posted as a checklist",
        "Asked to run dangerous step **high-error-rate / rollback** with version=1233",
        "Approved dangerous step **high-error-rate / rollback** (asked by @U0CAROL000)",
        "Ran runbook step **Roll back the deploy** (high-error-rate / rollback): passed",
        "Ran runbook step **Error ratio below 5 %** (high-error-rate / error-ratio): **failed**",
        "Ticked runbook step **high-error-rate / tell-support**",
        "Status changed: Identified → **Monitoring**",
        "Integration failure: could not update the announcement: channel\\_not\\_found",
        "Alert **CheckoutErrorRate** resolved",
        "SLO snapshot at resolution",
        "**Resolved** after 50 min 1 s: Rolled back deploy 1234.",
        "**Reopened**",
        "SLO snapshot at resolution",
        "**Resolved** after 1 h: Rolled back deploy 1234 and drained the bad pods.",
        "Action item #1 added: Canary deploys for checkout (owner @U0CAROL000, due 2026-04-10)",
        "Action item #2 done: Alert on queue depth",
        "Post-mortem reviewed",
    ]
    assert len(expected_starts) == len(whats)
    for what, expected in zip(whats, expected_starts, strict=True):
        assert what.startswith(expected), (what, expected)
    assert [who.strip() for _, who, _ in items][:3] == ["Alertmanager", "@U0ALICE000", "incidentbot"]
    assert "<@" not in markdown and "<!" not in markdown


def test_event_details_are_readable(config: AppConfig) -> None:
    markdown = compile_postmortem(make_facts(config), Templates(config))
    timeline = section_of(markdown, "Detailed timeline")

    # the pinned message is quoted under its item, Slack markup turned into words, line breaks kept
    assert (
        "  > Deploy 1234 rolled out at 01:30\\\n  > @U0CAROL000 can you check \\<db\\>? @channel\n"
        in timeline
    )
    # the update says what we knew and did; a newline inside stays inside the list item
    assert (
        "  - What we know: Payments API returns 502 \\| since deploy 1234\\\n    Queue is backing up"
        in timeline
    )
    assert "  - What we are doing: Rolling back" in timeline
    assert "  - Next update promised in 30 min" in timeline
    # a multi-line note: a paragraph under its item, the mention made harmless, no heading sneaks in
    assert "  @channel look at \\*this\\* \\| now\\\n  \\# not a heading\n" in timeline
    assert not re.search(r"^\s*#+ not a heading", markdown, re.M)
    assert "\\# not a heading" in timeline
    # SLO snapshots with the budget left, and the one that had no figures
    assert "checkout/availability (objective 99.5 %): budget left **62.0 %**" in timeline
    assert "checkout/latency (objective 99.5 %): no data — Prometheus unreachable (timeout)" in timeline
    # runbook step: parameters, result, exit code, duration, approval; output in a fence it cannot close
    assert "  - Parameters: version=1233" in timeline
    assert "  - Result: passed: exit 0 in 42.5 s" in timeline
    assert "  - Exit code: 0" in timeline
    assert "  - Duration: 42.5 s" in timeline
    assert "  - Approved by @U0BOB00000" in timeline
    assert (
        "  ````text\n  deployment.apps/checkout rolled back to 1233\n  ```not closing```\n  ````" in timeline
    )
    # the alert that opened it
    assert "  - 5xx ratio above 5 % on checkout" in timeline
    assert "  - Labels: service=checkout, severity=page" in timeline
    assert (
        "  - runbook high-error-rate · [source](https://prometheus.example.com/graph?g0.expr=x)" in timeline
    )
    assert "  - Started 2026-03-29 01:31:00 CET" in timeline


def test_names_replace_slack_ids_when_known(config: AppConfig) -> None:
    facts = make_facts(config, names={BOB: "Bob Builder", CAROL: "Carol Danvers"})
    markdown = compile_postmortem(facts, Templates(config))

    assert (
        "- **Incident Commander:** Bob Builder (took over from @U0ALICE000 at 2026-03-29 01:57 CET)"
        in markdown
    )
    assert "Pinned a message by Carol Danvers" in markdown
    assert "> Carol Danvers can you check" in markdown
    assert "U0BOB00000" not in markdown


def test_metadata_and_summary(config: AppConfig) -> None:
    markdown = compile_postmortem(make_facts(config), Templates(config))

    assert markdown.startswith("# Post-mortem: INC-12 — Checkout is down\n")
    head = markdown[: markdown.index("## Executive summary")]
    for line in (
        "- **Severity:** SEV1 · Critical (declared as SEV2 · Major)",
        "- **Status:** Resolved",
        "- **Duration:** 1 h",
        "- **Declared:** 2026-03-29 01:40 CET by @U0ALICE000",
        "- **Resolved:** 2026-03-29 03:40 CEST",
        "- **Incident Commander:** @U0BOB00000 (took over from @U0ALICE000 at 2026-03-29 01:57 CET)",
        "- **Other roles:** Scribe: @U0CAROL000",
        "- **Service:** Checkout (checkout)",
        "- **Channel:** #inc-20260329-12-checkout-is-down",
        "- **Post-mortem status:** Draft · compiled 2026-03-29 11:00 CEST",
        "- **Times:** Europe/Berlin",
    ):
        assert line in head, line
    summary = section_of(markdown, "Executive summary")
    assert "A bad deploy broke card payments for an hour." in summary
    assert "**Impact as declared:** Card payments fail for every customer." in summary
    assert markdown.endswith("not who is to blame._\n")


def test_metrics_equal_the_recorded_times(config: AppConfig) -> None:
    markdown = compile_postmortem(make_facts(config), Templates(config))
    metrics = section_of(markdown, "Detection and response metrics")

    rows = {row[0]: row[1:] for row in table_rows(metrics)[1:]}
    # impact from the alert's startsAt (00:31), detected by the alert (00:38), before the declaration (00:40)
    assert rows["Time to detect"] == [
        "7 min",
        "impact started (first alert): 2026-03-29 01:31:00 CET",
        "first alert received: 2026-03-29 01:38:00 CET",
    ]
    assert rows["Time to acknowledge"] == [
        "12 min",
        "declared: 2026-03-29 01:40:00 CET",
        "first page acknowledged: 2026-03-29 01:52:00 CET",
    ]
    assert rows["Time to mitigate"] == [
        "40 min",
        "declared: 2026-03-29 01:40:00 CET",
        "status Monitoring: 2026-03-29 03:20:00 CEST",
    ]
    # reopened and resolved again: the last resolution counts
    assert rows["Time to resolve"] == [
        "1 h",
        "declared: 2026-03-29 01:40:00 CET",
        "resolved: 2026-03-29 03:40:00 CEST",
    ]
    assert (
        "**Response target** SEV2 · Major (when the page was acknowledged; now SEV1 · Critical): "
        "acknowledge a page within 15 min — **met** (acknowledged after 12 min)"
    ) in metrics

    # the narrative's start of impact wins over the alert
    facts = make_facts(config, narrative={"impact_started_at": "2026-03-29T00:20:00+00:00"})
    metrics = section_of(compile_postmortem(facts, Templates(config)), "Detection and response metrics")
    rows = {row[0]: row[1:] for row in table_rows(metrics)[1:]}
    assert rows["Time to detect"][:2] == ["18 min", "impact started (as written): 2026-03-29 01:20:00 CET"]


def test_budget_consumed_from_the_declare_and_final_resolve_snapshots(config: AppConfig) -> None:
    changes = budget_consumed(make_events())

    assert [c.slo for c in changes] == ["checkout/availability", "checkout/latency"]
    availability, latency = changes
    assert (
        availability.at_declare == 0.62 and availability.at_resolve == 0.50
    )  # the last resolution's snapshot
    assert availability.consumed == pytest.approx(0.12)
    assert availability.declared_at == DECLARED and availability.resolved_at == utc(1, 40)
    assert latency.at_declare == 0.9 and latency.at_resolve is None and latency.consumed is None
    assert latency.note == "no figures at resolution: Prometheus unreachable (timeout)"

    markdown = compile_postmortem(make_facts(config), Templates(config))
    impact = section_of(markdown, "Impact analysis")
    rows = table_rows(impact)
    assert rows[1] == [
        "checkout/availability",
        "99.5 %",
        "62.0 % (2026-03-29 01:40 CET)",
        "50.0 % (2026-03-29 03:40 CEST)",
        "**12.0 %** of the budget",
    ]
    assert rows[2][0] == "checkout/latency" and rows[2][3] == "no data"
    assert rows[2][4].startswith("no data: no figures at resolution")


def test_budget_sides_missing() -> None:
    declared_only = [
        TimelineEvent(
            1, 1, EventKind.SLO_SNAPSHOT, None, DECLARED, "", {"moment": "declared", "slos": [slo("a", 0.5)]}
        ),
        TimelineEvent(
            2,
            1,
            EventKind.SLO_SNAPSHOT,
            None,
            utc(1, 0),
            "",
            {"moment": "resolved", "problem": "Prometheus unreachable", "slos": []},
        ),
    ]
    assert budget_consumed(declared_only) == [
        BudgetChange(
            "a",
            "checkout",
            0.995,
            0.5,
            None,
            DECLARED,
            None,
            "no figures at resolution: Prometheus unreachable",
        )
    ]
    assert budget_consumed(declared_only[:1])[0].note == "no snapshot at resolution"
    assert budget_consumed([]) == []


def test_resolution_and_recovery(config: AppConfig) -> None:
    markdown = compile_postmortem(make_facts(config), Templates(config))
    recovery = section_of(markdown, "Resolution and recovery")

    assert "**Resolution:** Rolled back deploy 1234 and drained the bad pods." in recovery
    changes = re.findall(r"^- \*\*(.+?)\*\* · .+ · (.+)$", recovery, re.M)
    assert [what for _, what in changes] == [
        "Status changed: Investigating → **Identified**",
        "Status changed: Identified → **Monitoring**",
        "**Resolved** after 50 min 1 s: Rolled back deploy 1234.",
        "**Reopened**",
        "**Resolved** after 1 h: Rolled back deploy 1234 and drained the bad pods.",
    ]
    rows = table_rows(recovery)
    assert rows[0] == ["Time", "Step", "Parameters", "Result", "Exit code", "Duration", "Run by"]
    assert rows[1] == [
        "2026-03-29 03:15:00 CEST",
        "**Roll back the deploy** (high-error-rate / rollback)",
        "version=1233",
        "passed: exit 0 in 42.5 s",
        "0",
        "42.5 s",
        "@U0CAROL000 (approved by @U0BOB00000)",
    ]
    assert rows[2][3:6] == ["**failed**: value 0.09, needs \\< 0.05", "—", "0.3 s"]
    assert rows[3][1:4] == ["**high-error-rate / tell-support**", "—", "ticked done by hand"]


def test_root_cause_whys_and_action_items(config: AppConfig) -> None:
    markdown = compile_postmortem(make_facts(config), Templates(config))

    rca = section_of(markdown, "Root cause analysis")
    assert "The deploy changed the payment client's timeout." in rca
    assert re.findall(r"^(\d)\. (.*)$", rca, re.M) == [
        ("1", "The client timed out."),
        ("2", "_Not written yet — why did that happen?_"),
        ("3", "Nobody reviewed the config change."),
        ("4", "_Not written yet — why was that possible?_"),
        ("5", "_Not written yet — why was that not prevented or caught earlier?_"),
    ]
    assert f"_Not written yet — {NARRATIVE['contributing_factors'].prompt}_" in rca

    rows = table_rows(section_of(markdown, "Action items"))
    assert rows == [
        ["#", "Item", "Owner", "Due", "Status"],
        ["1", "Canary deploys for checkout", "@U0CAROL000", "2026-04-10", "open"],
        ["2", "Alert on queue depth", "@U0ALICE000", "2026-03-30", "done 2026-03-29"],
        ["3", "Write the deploy checklist", "unassigned", "2026-03-01", "**overdue**"],
    ]


def test_empty_narrative_asks_and_invents_nothing(config: AppConfig) -> None:
    incident = make_incident(
        status="investigating", resolved_at=None, resolution=None, roles={"incident_commander": ALICE}
    )
    declared = TimelineEvent(
        1, 12, EventKind.DECLARED, ALICE, DECLARED, "Checkout is down", {"severity": "SEV1"}
    )
    facts = Facts(incident, [declared], {}, [], config, DECLARED + timedelta(minutes=20))
    markdown = compile_postmortem(facts, Templates(config))

    for key, spec in NARRATIVE.items():
        if spec.kind == "text":
            assert f"_Not written yet — {spec.prompt}_" in markdown, key
    assert markdown.count("_Not written yet — ") == sum(s.kind == "text" for s in NARRATIVE.values()) + 5
    assert "**Impact started:** not recorded — " in markdown
    assert "No SLO snapshots were recorded for this incident" in section_of(markdown, "Impact analysis")
    assert "%" not in section_of(markdown, "Impact analysis")
    assert "No action items yet" in markdown
    assert "No runbook steps were run or ticked." in markdown
    assert "**Not resolved yet** — the incident is Investigating." in markdown
    assert "- **Duration:** ongoing, 20 min so far" in markdown
    rows = {row[0]: row[1:] for row in table_rows(section_of(markdown, "Detection and response metrics"))[1:]}
    assert rows["Time to detect"] == [
        "not recorded",
        "impact started: not recorded",
        "declared: 2026-03-29 01:40:00 CET",
    ]
    assert (
        rows["Time to acknowledge"][0]
        == rows["Time to mitigate"][0]
        == rows["Time to resolve"][0]
        == "not recorded"
    )
    assert "within 5 min — not recorded (no page was acknowledged)" in markdown


def test_user_text_cannot_break_the_document(config: AppConfig) -> None:
    nasty = "a | b\nc <!channel> *bold* [x](http://evil) `code`\n# heading\n1. list\n- item\n> quote"
    incident = make_incident(title="Checkout | down <!here>", resolution=nasty, summary=nasty)
    actions = [ActionItem(9, 12, nasty, "Jane | Doe", None, "open", BOB, DECLARED, None, None)]
    narrative = {key: nasty for key, spec in NARRATIVE.items() if spec.kind == "text"} | {"whys": [nasty] * 5}
    events = [
        TimelineEvent(
            1, 12, EventKind.DECLARED, ALICE, DECLARED, incident.title, {"severity": "SEV1", "summary": nasty}
        ),
        TimelineEvent(
            2,
            12,
            EventKind.NOTE_ADDED,
            ALICE,
            utc(0, 50),
            nasty.replace("<", "&lt;").replace(">", "&gt;"),
            {},
        ),
        TimelineEvent(
            3, 12, EventKind.MESSAGE_PINNED, ALICE, utc(0, 51), nasty, {"permalink": "javascript:alert(1)"}
        ),
        TimelineEvent(
            4,
            12,
            EventKind.RUNBOOK_STEP_RUN,
            ALICE,
            utc(0, 52),
            "",
            {"step": "s|t", "params": {"p": "a|b\nc"}, "summary": nasty, "passed": True},
        ),
    ]
    facts = Facts(incident, events, narrative, actions, config, utc(3, 0))
    markdown = compile_postmortem(facts, Templates(config))

    assert (
        "<!channel>" not in markdown
        and "<!here>" not in markdown
        and "javascript:" not in markdown.replace("javascript:alert(1)", "")
    )
    assert "[x](http://evil)" not in markdown and "\\[x\\](http://evil)" in markdown
    assert "1\\. list" in markdown and "\\- item" in markdown and "\\> quote" in markdown
    assert "\\*bold\\*" in markdown and "\\[x\\]" in markdown and "\\`code\\`" in markdown
    # no line of user text became a heading, list item or quote of its own
    headings = re.findall(r"^#+ .*$", markdown, re.M)
    assert all("heading" not in h for h in headings), headings
    assert not re.search(r"^\s*(?:1\. list|- item|> quote)", markdown, re.M)
    # every table row keeps its number of cells
    for heading, width in (("Action items", 5), ("Resolution and recovery", 7)):
        rows = table_rows(section_of(markdown, heading))
        assert rows and all(len(row) == width for row in rows), rows
    action = table_rows(section_of(markdown, "Action items"))[1]
    assert action[1].startswith("a \\| b<br>c \\<!channel\\>") and action[2] == "Jane \\| Doe"
    assert markdown.startswith("# Post-mortem: INC-12 — Checkout \\| down \\<!here\\>\n")


def test_template_override_directory_replaces_it(config: AppConfig, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text(
        "PM {{ reference }}: {{ event_count }} events\n"
        "{% for e in timeline %}{{ e.time }} {{ e.kind }}\n{% endfor %}"
    )
    templates = Templates(config.model_copy(update={"templates_dir": tmp_path}))
    markdown = compile_postmortem(make_facts(config), templates)

    assert markdown.startswith("PM INC-12: 35 events\n2026-03-29 01:38:00 CET alert_received\n")
    assert template_problems(config.model_copy(update={"templates_dir": tmp_path})) == []

    (tmp_path / "postmortem.md.j2").write_text("{{ incident.titel }}\n")
    errors = template_problems(config.model_copy(update={"templates_dir": tmp_path}))
    assert len(errors) == 1 and "postmortem.md.j2" in errors[0] and "titel" in errors[0]


def test_bundled_template_passes_config_check(config: AppConfig) -> None:
    assert template_problems(config) == []
    assert template_problems(AppConfig()) == []


def test_naive_utc_times_from_sqlite_are_understood(config: AppConfig) -> None:
    naive = [
        TimelineEvent(
            e.id, e.incident_id, e.kind, e.actor, e.occurred_at.replace(tzinfo=None), e.text, e.data
        )
        for e in make_events()
    ]
    incident = make_incident(
        created_at=DECLARED.replace(tzinfo=None), resolved_at=utc(1, 40).replace(tzinfo=None)
    )
    facts = make_facts(config, incident=incident, events=naive)

    assert compile_postmortem(facts, Templates(config)) == compile_postmortem(
        make_facts(config), Templates(config)
    )


def test_file_name_is_stable_and_uses_the_local_date(config: AppConfig) -> None:
    late = make_incident(created_at=datetime(2026, 11, 23, 23, 30, tzinfo=UTC))  # 00:30 on the 24th in Berlin

    assert file_name(late, config.zone) == "2026-11-24-inc-12-checkout-is-down.md"
    assert file_name(late, UTC) == "2026-11-23-inc-12-checkout-is-down.md"
    odd = make_incident(title="Ünïcode — and / slashes!!")
    assert file_name(odd, config.zone) == "2026-03-29-inc-12-unicode-and-slashes.md"


# -- the Slack summary --------------------------------------------------------------------------------


def test_summary_message_of_a_normal_incident(config: AppConfig) -> None:
    message = summary_message(make_facts(config), link="https://wiki.example.com/pm/inc-12")

    assert validate_message(message.text, message.blocks) == []
    text = str(message.blocks)
    assert message.text == "Post-mortem of INC-12: Checkout is down — SEV1 · Critical, 1 h"
    assert "Time to acknowledge: 12 min" in text and "Time to resolve: 1 h" in text
    assert "*12.0 %* of the budget (62.0 % → 50.0 % left)" in text
    assert "<https://wiki.example.com/pm/inc-12|Read the full post-mortem>" in text
    assert "2026-03-29-inc-12-checkout-is-down.md" in text
    assert "(3, 2 open)" in text


def test_summary_message_of_a_10000_event_incident_stays_within_block_kit(config: AppConfig) -> None:
    kinds = [EventKind.NOTE_ADDED, EventKind.STATUS_CHANGED, EventKind.UPDATE_POSTED, EventKind.PAGE_SENT]
    events = [
        TimelineEvent(
            n,
            12,
            kinds[n % 4],
            BOB,
            DECLARED + timedelta(seconds=n),
            "x" * 500 + " <!channel>",
            {"from": "investigating", "to": "identified", "known": "y" * 500, "user": CAROL},
        )
        for n in range(10_000)
    ]
    actions = [
        ActionItem(n, 12, "fix <!channel> " + "z" * 400, CAROL, None, "open", BOB, DECLARED, None, None)
        for n in range(300)
    ]
    narrative = {"summary": "s " * 5000}
    facts = make_facts(config, events=events, actions=actions, narrative=narrative, names={})
    message = summary_message(facts, link=None)

    assert validate_message(message.text, message.blocks) == []
    assert len(message.blocks) <= 50
    text = str(message.blocks)
    assert "<!channel>" not in text
    assert "10,000 timeline events; 15 shown here, 9,985 left out" in text
    assert "2,485 more key moments" in text  # 2,500 status changes, 15 shown
    assert "…and 290 more in the post-mortem" in text
    assert "characters in all: read the full post-mortem" in text

    markdown = compile_postmortem(facts, Templates(config))
    assert len(re.findall(r"^- \*\*2026-03-29", section_of(markdown, "Detailed timeline"), re.M)) == 10_000


@pytest.mark.parametrize(
    ("slack", "plain"),
    [
        ("<@U0BOB00000> and <@U0X|xavier>", "Bob and @xavier"),
        ("<#C0INC12|inc-12> <#C0OTHER>", "#inc-12 #C0OTHER"),
        ("<!channel> <!here> <!subteam^S01|@oncall>", "@channel @here @oncall"),
        (
            "see <https://x.example/a|the graph> or <https://y.example/b>",
            "see the graph (https://x.example/a) or https://y.example/b",
        ),
        ("a &lt;b&gt; &amp;lt; c", "a <b> &lt; c"),
    ],
)
def test_slack_markup_becomes_plain_words(slack: str, plain: str) -> None:
    assert slack_plain(slack, {BOB: "Bob"}) == plain
