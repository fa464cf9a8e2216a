"""The `report:` section of the config: targets of the incident metrics report.

```yaml
report:
  targets:
    mttd: 5m                       # one duration for every severity…
    mtta: {SEV1: 5m, SEV2: 15m}    # …or one per severity; mtta defaults to each severity's response_target
    mttm: {SEV1: 1h}               # mean time to mitigate (optional)
    mttr: {SEV1: 4h, SEV2: 8h, SEV3: 3d, SEV4: 7d}
    postmortem_completion: 0.9     # share of resolved incidents of `postmortem_required` with a published one
    action_item_completion: 80%    # share of the action items due in the window that are done
  postmortem_required: [SEV1, SEV2] # default: the first two of `severities:`
  repeat_window: 90d
```

A time target is met when the mean over the window is at or under it; a rate target when the rate is at
or above it. A severity without a target shows its figures with "no target".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from bot.settings import Duration, Strict, parse_duration

TIME_METRICS = ("mttd", "mtta", "mttm", "mttr")
"""Mean time to detect, acknowledge, mitigate, resolve (see bot/postmortem/metrics.py)."""


def _share(value: Any) -> Any:
    """`0.9`, `90%` and `"0.9"` all mean ninety percent."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                return float(text[:-1]) / 100
            except ValueError:
                raise ValueError(f"{value!r} is not a share such as 0.9 or 90%") from None
    return value


def _time_target(value: Any) -> Any:
    """One duration, or a mapping severity -> duration; parsed here so an error names one reason."""
    if isinstance(value, dict):
        return {str(severity): parse_duration(duration) for severity, duration in value.items()}
    if isinstance(value, list | tuple):
        raise ValueError("give one duration (15m) or a mapping of severity to duration ({SEV1: 5m})")
    return parse_duration(value) if value is not None else None


Share = Annotated[float, BeforeValidator(_share), Field(ge=0, le=1)]
TimeTarget = Annotated[timedelta | dict[str, timedelta], BeforeValidator(_time_target)]


class ReportTargets(Strict):
    mttd: TimeTarget | None = None
    mtta: TimeTarget | None = None
    """Default: each severity's `response_target`; a mapping that leaves a severity out uses it too."""
    mttm: TimeTarget | None = None
    mttr: TimeTarget | None = None
    postmortem_completion: Share | None = None
    action_item_completion: Share | None = None

    @field_validator(*TIME_METRICS)
    @classmethod
    def _positive(cls, value: TimeTarget | None) -> TimeTarget | None:
        durations = value.values() if isinstance(value, dict) else [value] if value is not None else []
        if any(d <= timedelta(0) for d in durations):
            raise ValueError("targets must be longer than zero")
        return value


class ReportConfig(Strict):
    targets: ReportTargets = ReportTargets()
    postmortem_required: tuple[str, ...] | None = None
    """Severities whose incidents must get a published post-mortem; default: the two most severe
    configured (the first two of `severities:`, SEV1 and SEV2 out of the box)."""
    repeat_window: Duration = timedelta(days=90)
    """An incident is a repeat when an earlier one of the same service and alert was declared this
    long before it, or less."""

    @field_validator("repeat_window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    def time_target(self, metric: str, severity: str, response_target: timedelta | None) -> timedelta | None:
        """The target of `metric` (one of TIME_METRICS) for one severity; None when there is none."""
        value = getattr(self.targets, metric)
        fallback = response_target if metric == "mtta" else None
        if isinstance(value, dict):
            return value.get(severity, fallback)
        return value if value is not None else fallback

    def overall_time_target(self, metric: str) -> timedelta | None:
        """A single duration applies to all incidents together; per-severity targets have no overall one."""
        value = getattr(self.targets, metric)
        return value if isinstance(value, timedelta) else None

    def required_severities(self, severities: Sequence[str]) -> tuple[str, ...]:
        """`postmortem_required`, or the two most severe of the configured `severities` (in config order)."""
        return self.postmortem_required if self.postmortem_required is not None else tuple(severities[:2])

    def problems(self, severities: Iterable[str]) -> list[str]:
        """Severity ids the section names that the config does not define (for `config check`)."""
        known = list(severities)
        found = []
        for metric in TIME_METRICS:
            value = getattr(self.targets, metric)
            if isinstance(value, dict):
                found += [f"report.targets.{metric}: unknown severity {s!r}" for s in value if s not in known]
        found += [
            f"report.postmortem_required: unknown severity {s!r}"
            for s in self.postmortem_required or ()
            if s not in known
        ]
        return [f"{p} ({', '.join(known)})" for p in found]
