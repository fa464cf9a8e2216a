"""Workflow matching: 50 workflows × 1,000 events → p50/p99 evaluation time per event.

What is measured is the pure part the bus runs inside each change's transaction (`WorkflowIndex.scheduled`
and `.cancelled`: which workflows an event starts, conditions included, and which delays it cancels), so
the figure is what every declare, severity change or alert pays before its commit — the database writes
(one keyed timer per run) come on top. The 50 workflows mix triggers, delays, nested any/all/not and
label conditions; the 1,000 events mix triggers, severities, services and alert labels (seeded, so two
runs match). The table compares the index against a plain scan of every workflow.
Run: `.venv/bin/python bench/workflows.py [--workflows 50] [--events 1000] [--rounds 5]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.workflows.match import Facts, WorkflowIndex, holds
from bot.workflows.settings import TRIGGERS, Workflow

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
STATUSES = ("investigating", "identified", "mitigated", "monitoring", "resolved")
SERVICES = ("checkout", "payments", "api", "database", "cache", "messaging", None)
TEAMS = ("payments", "security", "platform", "data")


def _conditions(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    if rng.random() < 0.7:
        conditions["severity"] = rng.sample(SEVERITIES, rng.randint(1, 2))
    if rng.random() < 0.5:
        conditions["service"] = [s for s in rng.sample(SERVICES, 2) if s] or ["api"]
    if rng.random() < 0.3:
        conditions["private"] = False
    if rng.random() < 0.3:
        conditions["labels"] = {"team": rng.choice(TEAMS)}
    if depth == 0 and rng.random() < 0.4:
        conditions["any"] = [_conditions(rng, 1) for _ in range(2)]
    if depth == 0 and rng.random() < 0.2:
        conditions["not"] = {"status": [rng.choice(STATUSES)]}
    return conditions


def workflows(count: int, rng: random.Random) -> list[Workflow]:
    made = []
    for n in range(count):
        if n % 5 == 4:
            on: Any = {"after": f"{rng.choice((5, 15, 30, 60))}m", "of": rng.choice(TRIGGERS[:3]),
                       "unless": "incident.resolved"}  # fmt: skip
        else:
            on = rng.sample(TRIGGERS, rng.randint(1, 3))
        made.append(
            Workflow.model_validate(
                {
                    "name": f"wf-{n}",
                    "on": on,
                    "if": _conditions(rng),
                    "do": [{"post": {"template": "team_heads_up"}}, {"page": {"user": "U0ALICE000"}}],
                }
            )
        )
    return made


def events(count: int, rng: random.Random) -> list[tuple[str, Facts]]:
    return [
        (
            rng.choice(TRIGGERS),
            Facts(
                rng.choice(SEVERITIES),
                rng.choice(STATUSES),
                rng.choice(SERVICES),
                rng.random() < 0.1,
                {"team": rng.choice(TEAMS), "alertname": "HighErrorRate"} if rng.random() < 0.5 else {},
            ),
        )
        for _ in range(count)
    ]


def _scan(all_workflows: list[Workflow], trigger: str, facts: Facts) -> int:
    """The naive way: every workflow, every event."""
    started = 0
    for workflow in all_workflows:
        if trigger in workflow.triggers and holds(workflow.if_, facts):
            started += 1
        started += sum(1 for d in workflow.delays if d.of == trigger)
        started += sum(1 for d in workflow.delays if trigger in d.unless)
    return started


def measure(name: str, evaluate: Any, stream: list[tuple[str, Facts]], rounds: int) -> dict[str, Any]:
    samples: list[float] = []
    runs = 0
    for _ in range(rounds):
        for trigger, facts in stream:
            started = time.perf_counter_ns()
            runs += evaluate(trigger, facts)
            samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return {
        "name": name,
        "p50": statistics.median(samples),
        "p99": samples[int(len(samples) * 0.99) - 1],
        "max": samples[-1],
        "runs": runs // rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(19)
    configured = workflows(args.workflows, rng)
    stream = events(args.events, rng)
    started = time.perf_counter()
    index = WorkflowIndex(configured)
    built_ms = (time.perf_counter() - started) * 1000

    def indexed(trigger: str, facts: Facts) -> int:
        return len(index.scheduled(trigger, facts)) + len(index.cancelled(trigger))

    rows = [
        measure("index (the bus)", indexed, stream, args.rounds),
        measure("scan every workflow", lambda t, f: _scan(configured, t, f), stream, args.rounds),
    ]
    print(f"{args.workflows} workflows × {args.events} events × {args.rounds} rounds "
          f"(index built in {built_ms:.2f} ms)")  # fmt: skip
    print(f"{'evaluation':<22} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8} {'runs/round':>11}")
    for row in rows:
        print(f"{row['name']:<22} {row['p50']:>8.1f} {row['p99']:>8.1f} {row['max']:>8.1f} {row['runs']:>11}")
    assert rows[0]["runs"] == rows[1]["runs"], "the index and the scan disagree"


if __name__ == "__main__":
    main()
