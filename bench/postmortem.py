"""Compiling the post-mortem of a 10,000-event incident: `compile_postmortem` and `summary_message`.

The timeline repeats the hand-built incident of tests/test_postmortem_compile.py (every event kind, pinned
messages, runbook output, SLO snapshots, pages) one second apart, with 300 action items and a full
narrative, in Europe/Berlin. Pure CPU: no bot process, database or Slack. Goal: under 1 s each.
Run: `.venv/bin/python bench/postmortem.py [--events 10000] [--runs 15]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._bot import percentile
from bot.config import AppConfig, Service
from bot.domain import TimelineEvent
from bot.postmortem.compile import compile_postmortem
from bot.postmortem.facts import NARRATIVE, Facts
from bot.postmortem.store import ActionItem
from bot.postmortem.summary import summary_message
from bot.standin.blockkit import validate_message
from bot.templating import Templates
from tests.test_postmortem_compile import DECLARED, SCRIPT, make_incident

GOAL_SECONDS = 1.0


def build_facts(count: int, config: AppConfig) -> Facts:
    events = []
    for n in range(count):
        _, kind, actor, text, data = SCRIPT[n % len(SCRIPT)]
        events.append(TimelineEvent(n + 1, 12, kind, actor, DECLARED + timedelta(seconds=n), text, data))
    actions = [
        ActionItem(
            n,
            12,
            f"Follow-up {n}: add a canary | check",
            "U0CAROL000",
            date(2026, 4, 10),
            "open",
            "U0BOB00000",
            DECLARED,
            None,
            None,
        )
        for n in range(1, 301)
    ]
    narrative = {
        key: f"{spec.heading}: " + "words " * 200 for key, spec in NARRATIVE.items() if spec.kind == "text"
    }
    narrative["whys"] = ["Because of the one before."] * 5
    incident = make_incident(resolved_at=DECLARED + timedelta(seconds=count))
    return Facts(incident, events, narrative, actions, config, DECLARED + timedelta(days=1))


def measure(work: Callable[[], object], runs: int) -> list[float]:
    work()  # warm-up: template compilation and imports are not what we measure
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    config = AppConfig(timezone="Europe/Berlin", services=[Service(id="checkout", name="Checkout")])
    templates = Templates(config)
    facts = build_facts(args.events, config)
    markdown = compile_postmortem(facts, templates)
    message = summary_message(facts, "https://wiki.example.com/postmortems/inc-12")
    problems = validate_message(message.text, message.blocks)

    rows = [
        ("`compile_postmortem` (Markdown)", measure(lambda: compile_postmortem(facts, templates), args.runs)),
        ("`summary_message` (Block Kit)", measure(lambda: summary_message(facts), args.runs)),
    ]
    print(
        f"\n{args.events:,} timeline events, {len(facts.actions)} action items, full narrative; "
        f"median and p95 of {args.runs} runs after a warm-up."
    )
    print(f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}.\n")
    print("| function | median (ms) | p95 (ms) | max (ms) | output | goal < 1 s |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    outputs = [
        f"{len(markdown):,} chars, {markdown.count(chr(10)):,} lines",
        f"{len(message.blocks)} blocks, Block Kit {'valid' if not problems else 'INVALID'}",
    ]
    ok = not problems
    for (label, times), output in zip(rows, outputs, strict=True):
        median, p95 = statistics.median(times), percentile(times, 95)
        ok = ok and p95 < GOAL_SECONDS
        print(
            f"| {label} | {median * 1000:.1f} | {p95 * 1000:.1f} | {max(times) * 1000:.1f} | {output} "
            f"| {'met' if p95 < GOAL_SECONDS else 'NOT met'} |"
        )
    if problems:
        print("\n".join(problems), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
