"""A threshold on a PromQL expression held for a duration, with hysteresis: the workflows' `threshold`
trigger (issue 19: roll back when a deploy's 5xx ratio stays above 2 % for 5 minutes).

Pure: `observe` takes the state, one evaluated value and its time, and says whether the threshold was
breached or cleared just now. It breaches once the value has been on the wrong side for `hold`
continuously, and clears only once it has been back for `hold` continuously, so a short spike neither
fires nor ends a breach, and a value hovering at the line cannot flap. A missing value (no data) changes
nothing: an exporter that restarts must not look like a recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator

from bot.settings import Duration, Strict

BREACHED, CLEARED = "breached", "cleared"
Change = Literal["breached", "cleared"]


class Threshold(Strict):
    expr: str = Field(min_length=1)
    above: float | None = None
    below: float | None = None
    hold: Duration = Field(alias="for")
    """How long the value must stay on the wrong side (and, to clear, back on the right side)."""
    every: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _one_side(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above: or below:")
        if self.hold <= timedelta(0) or self.every <= timedelta(0):
            raise ValueError("for: and every: must be longer than 0")
        return self

    def crossed(self, value: float) -> bool:
        return value > self.above if self.above is not None else value < (self.below or 0.0)


@dataclass(frozen=True)
class ThresholdState:
    breached: bool = False
    since: datetime | None = None
    """When the value last went to the side that would change `breached` (None: it is on the other)."""
    last_value: float | None = None


def observe(
    threshold: Threshold, state: ThresholdState, value: float | None, at: datetime
) -> tuple[ThresholdState, Change | None]:
    if value is None:
        return state, None
    wrong_side = threshold.crossed(value)
    moving = wrong_side != state.breached
    if not moving:
        return replace(state, since=None, last_value=value), None
    since = state.since or at
    if at - since < threshold.hold:
        return replace(state, since=since, last_value=value), None
    change: Change = BREACHED if wrong_side else CLEARED
    return ThresholdState(breached=wrong_side, since=None, last_value=value), change
