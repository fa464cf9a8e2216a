"""The stand-in's switches for a slow or stingy Slack: per-method delays and hangs, a sequence of HTTP
statuses, and Slack's sliding-window rate limit with Retry-After.

They are what an operator meets in the worst minute (Slack answering in seconds, 429s during a storm),
made repeatable: a crash test holds one call long enough to kill the bot during it, a storm test
limits `conversations.create` to 20 a minute as Slack does.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Args = dict[str, Any]
ANY_METHOD = "*"
"""`Workspace.delay("*", 0.15)`: every Web API call takes 150 ms, like a distant Slack."""
HANG_SECONDS = 3600.0
"""A hang: longer than any client waits."""


@dataclass
class Delay:
    """Hold calls to `method` (whose args satisfy `when`) for `seconds` before answering them."""

    method: str
    seconds: float
    remaining: int | None = None
    """None: every call; else the next `remaining` calls."""
    when: Callable[[Args], bool] | None = None
    after: bool = False
    """Act first and answer late (Slack did it, the bot does not know yet) instead of holding the call."""

    def matches(self, method: str, args: Args) -> bool:
        return self.method in (method, ANY_METHOD) and (self.when is None or bool(self.when(args)))


@dataclass(frozen=True)
class Arrival:
    """A call that reached the stand-in and is being held: a test waits for one to kill the bot during it."""

    method: str
    args: Args
    at: float


@dataclass
class SlidingWindow:
    """Slack's rate limit as a sliding window: at most `limit` answered calls in any `window` seconds;
    the next one gets 429 with the seconds until the oldest leaves the window as Retry-After."""

    method: str
    limit: int
    window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    answered: deque[float] = field(default_factory=deque)

    def admit(self) -> int | None:
        """None when the call may go through (and it is counted); else the Retry-After in seconds."""
        now = self.clock()
        while self.answered and self.answered[0] <= now - self.window:
            self.answered.popleft()
        if len(self.answered) < self.limit:
            self.answered.append(now)
            return None
        return max(1, math.ceil(self.answered[0] + self.window - now))


class Switches:
    """The switches a workspace carries; `Workspace.delay`, `hang_next`, `respond_with` and `rate_limit`
    set them, the server consults them on every call."""

    def __init__(self) -> None:
        self.delays: list[Delay] = []
        self.windows: dict[str, SlidingWindow] = {}
        self.arrivals: list[Arrival] = []

    def take_delay(self, method: str, args: Args) -> tuple[float, bool]:
        """(seconds to hold the call, whether to act before holding the answer)."""
        for delay in self.delays:
            if delay.matches(method, args):
                if delay.remaining is not None:
                    delay.remaining -= 1
                    if delay.remaining <= 0:
                        self.delays.remove(delay)
                return delay.seconds, delay.after
        return 0.0, False

    def admit(self, method: str) -> int | None:
        window = self.windows.get(method)
        return window.admit() if window is not None else None
