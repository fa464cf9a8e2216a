"""Walking an escalation policy: which notify steps run now and when the walk resumes.

The walk from a position is a pure function of the policy, so the service can compute it first and then
move the escalation to its end position with one conditional UPDATE: only the process that wins that
update pages anyone, and a repeated timer pages nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.oncall.settings import Notify, Step

MAX_NOTIFIES_PER_WALK = 100
"""A repeat with no wait in between still ends (`times` is bounded); this is a second fuse."""


@dataclass(frozen=True)
class Position:
    round: int
    step: int
    """0-based index of the next step to run."""


@dataclass(frozen=True)
class Walk:
    notifies: list[tuple[int, Notify]] = field(default_factory=list)
    """(0-based step index, target) to page now, in order."""
    resume: Position | None = None
    """Where the walk continues after `wait`; None when the policy is exhausted."""
    wait: timedelta = timedelta(0)


def walk(steps: list[Step], start: Position) -> Walk:
    """Run notify steps from `start` until a wait (resume after it) or the end of the policy."""
    notifies: list[tuple[int, Notify]] = []
    round_, index = start.round, start.step
    while index < len(steps) and len(notifies) < MAX_NOTIFIES_PER_WALK:
        step = steps[index]
        if step.notify is not None:
            notifies.append((index, step.notify))
            index += 1
        elif step.wait is not None:
            return Walk(notifies, Position(round_, index + 1), step.wait)
        elif step.repeat is not None and round_ < step.repeat.times:
            round_, index = round_ + 1, step.repeat.from_step - 1
        else:
            index += 1
    return Walk(notifies, None)


def next_notify(steps: list[Step], start: Position) -> Position | None:
    """The position of the next notify step, skipping waits: what "Escalate now" jumps to."""
    round_, index = start.round, start.step
    for _ in range(len(steps) * 11):
        if index >= len(steps):
            return None
        step = steps[index]
        if step.notify is not None:
            return Position(round_, index)
        if step.repeat is not None and round_ < step.repeat.times:
            round_, index = round_ + 1, step.repeat.from_step - 1
        else:
            index += 1
    return None
