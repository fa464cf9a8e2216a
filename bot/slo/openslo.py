"""OpenSLO (`apiVersion: openslo/v1`, `kind: SLO`) specs: the raw shape, and its conversion into `SLO`.

The larger of the two formats: only ratio metrics over rolling windows with Occurrences budgeting map
onto `SLO`, and plain counter selectors are turned into event counts over each burn-rate window, so
most of the refusals (with their reasons) live here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationInfo, field_validator, model_validator

from bot.problems import Problems
from bot.slo.model import SLO, WINDOW_PLACEHOLDER
from bot.slo.spec_fields import RAW_CONFIG, Loaded, check_objective, promql, spec_name

OPENSLO_API_VERSION = "openslo/v1"
MIN_PERIOD = timedelta(days=3)
"""The longest burn-rate window; a shorter period would make the ticket alert meaningless."""

OPENSLO_IGNORED_KINDS = frozenset(
    {"Service", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
)
"""OpenSLO kinds that are routinely bundled with SLOs but carry nothing the bot computes from."""

_SELECTOR = re.compile(
    r"""\s*(?:[A-Za-z_:][A-Za-z0-9_:]*)?\s*"""
    r"""(?:\{(?:[^{}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})?\s*"""
)
_ROLLING = re.compile(r"(\d+)(m|h|d|w)")
_ROLLING_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class _Raw(BaseModel):
    model_config = RAW_CONFIG


class _OSMetadata(_Raw):
    name: str
    displayName: str | None = None
    labels: dict[str, str | list[str]] = {}
    annotations: dict[str, str] = {}

    check_name = field_validator("name")(spec_name)


class _OSPrometheusSpec(_Raw):
    query: str

    check_query = field_validator("query")(promql)


class _OSMetricSource(_Raw):
    type: str
    metricSourceRef: str | None = None
    spec: _OSPrometheusSpec

    @field_validator("type")
    @classmethod
    def _prometheus(cls, value: str) -> str:
        if value.lower() != "prometheus":
            raise ValueError(f"only Prometheus metric sources are supported (got {value!r})")
        return value


class _OSMetric(_Raw):
    metricSource: _OSMetricSource


class _OSRatioMetric(_Raw):
    counter: bool
    good: _OSMetric | None = None
    bad: _OSMetric | None = None
    total: _OSMetric | None = None
    rawType: str | None = None
    raw: dict[str, Any] | None = None

    @field_validator("raw")
    @classmethod
    def _no_raw(cls, value: object) -> object:
        raise ValueError("precomputed ratios (raw/rawType) are not supported; give good or bad, and total")

    @model_validator(mode="after")
    def _good_or_bad(self) -> _OSRatioMetric:
        if self.raw is None and (self.total is None or (self.good is None) == (self.bad is None)):
            raise ValueError("give total and exactly one of good or bad")
        return self


class _OSIndicatorSpec(_Raw):
    ratioMetric: _OSRatioMetric | None = None
    thresholdMetric: dict[str, Any] | None = None

    @field_validator("thresholdMetric")
    @classmethod
    def _no_threshold(cls, value: object) -> object:
        raise ValueError(
            "threshold metrics are not supported; use ratioMetric (for latency, count fast requests)"
        )

    @model_validator(mode="after")
    def _ratio(self) -> _OSIndicatorSpec:
        if self.ratioMetric is None and self.thresholdMetric is None:
            raise ValueError("ratioMetric is required")
        return self


class _OSIndicator(_Raw):
    metadata: dict[str, Any] | None = None
    spec: _OSIndicatorSpec


class _OSTimeWindow(_Raw):
    duration: str
    isRolling: bool = False
    calendar: dict[str, Any] | None = None

    @field_validator("duration")
    @classmethod
    def _rolling_duration(cls, value: str) -> str:
        match = _ROLLING.fullmatch(value.strip())
        if not match:
            raise ValueError(f"must be a rolling duration in m, h, d or w such as 28d or 4w (got {value!r})")
        if _duration(value) < MIN_PERIOD:
            raise ValueError(f"must be at least 3d, the longest burn-rate window (got {value!r})")
        return value.strip()

    @field_validator("isRolling")
    @classmethod
    def _rolling(cls, value: bool) -> bool:
        if not value:
            raise ValueError("calendar-aligned windows are not supported; set isRolling: true")
        return value

    @model_validator(mode="after")
    def _given(self) -> _OSTimeWindow:
        if not self.isRolling:
            raise ValueError("isRolling: true is required (calendar-aligned windows are not supported)")
        return self


class _OSObjective(_Raw):
    displayName: str | None = None
    op: str | None = None
    value: float | None = None
    target: float | None = None
    targetPercent: float | None = None
    timeSliceTarget: float | None = None
    timeSliceWindow: str | None = None
    indicator: dict[str, Any] | None = None
    indicatorRef: str | None = None
    compositeWeight: float | None = None

    @field_validator("target")
    @classmethod
    def _fraction(cls, value: float) -> float:
        return check_objective(value, 1)

    @field_validator("targetPercent")
    @classmethod
    def _percent(cls, value: float) -> float:
        return check_objective(value, 100)

    @field_validator("indicator", "indicatorRef")
    @classmethod
    def _no_own_indicator(cls, value: object) -> object:
        raise ValueError("per-objective indicators are not supported; put the indicator in spec.indicator")

    @model_validator(mode="after")
    def _one_target(self) -> _OSObjective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("give exactly one of target (a fraction, e.g. 0.999) or targetPercent")
        return self

    @property
    def fraction(self) -> float:
        return self.target if self.target is not None else (self.targetPercent or 0) / 100


class _OSSpec(_Raw):
    description: str = ""
    service: str
    indicator: _OSIndicator | None = None
    indicatorRef: str | None = None
    timeWindow: list[_OSTimeWindow]
    budgetingMethod: str
    objectives: list[_OSObjective]
    alertPolicies: list[Any] = []

    check_name = field_validator("service")(spec_name)

    @field_validator("timeWindow", "objectives")
    @classmethod
    def _exactly_one(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        if len(value) != 1:
            hint = "; write one SLO per objective" if info.field_name == "objectives" else ""
            raise ValueError(f"exactly one entry is supported (got {len(value)}){hint}")
        return value

    @field_validator("indicatorRef")
    @classmethod
    def _no_ref(cls, value: object) -> object:
        raise ValueError("indicatorRef is not supported; inline the SLI under spec.indicator")

    @field_validator("budgetingMethod")
    @classmethod
    def _occurrences(cls, value: str) -> str:
        if value != "Occurrences":
            raise ValueError(
                f"only Occurrences is supported (got {value!r}); Timeslices need per-slice evaluation"
            )
        return value

    @model_validator(mode="after")
    def _has_indicator(self) -> _OSSpec:
        if self.indicator is None and self.indicatorRef is None:
            raise ValueError("indicator is required")
        return self


class OpenSLO(_Raw):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: _OSMetadata
    spec: _OSSpec


def _duration(text: str) -> timedelta:
    match = _ROLLING.fullmatch(text.strip())
    assert match
    return timedelta(**{_ROLLING_UNITS[match.group(2)]: int(match.group(1))})


def _is_selector(query: str) -> bool:
    return bool(query.strip()) and query.strip() not in ("{}",) and _SELECTOR.fullmatch(query) is not None


def _os_count(metric: _OSMetric, counter: bool, path: str, problems: Problems, where: str) -> str | None:
    """Event count over `{{.window}}` for one OpenSLO metric; None (plus a problem) if not windowable."""
    query = metric.metricSource.spec.query
    if WINDOW_PLACEHOLDER in query:
        return f"({query})"
    field = f"{path}.metricSource.spec.query"
    if not counter:
        problems.add(
            where,
            field,
            f"counter: false (gauge) queries are only supported when they contain {WINDOW_PLACEHOLDER} "
            "and return the event count over that window",
        )
        return None
    if not _is_selector(query):
        problems.add(
            where,
            field,
            "an expression cannot be evaluated over the burn-rate windows; give a plain counter selector "
            f'such as http_requests_total{{code=~"5.."}}, or an expression with {WINDOW_PLACEHOLDER} '
            f"that returns the event count, e.g. sum(increase(x[{WINDOW_PLACEHOLDER}]))",
        )
        return None
    return f"sum(increase({query.strip()}[{WINDOW_PLACEHOLDER}]))"


def from_openslo(doc: OpenSLO, source: str, where: str, problems: Problems) -> Iterator[Loaded]:
    spec = doc.spec
    assert spec.indicator is not None and spec.indicator.spec.ratioMetric is not None
    ratio = spec.indicator.spec.ratioMetric
    base = "spec.indicator.spec.ratioMetric"
    assert ratio.total is not None
    total = _os_count(ratio.total, ratio.counter, f"{base}.total", problems, where)
    if ratio.bad is not None:
        error = _os_count(ratio.bad, ratio.counter, f"{base}.bad", problems, where)
    else:
        assert ratio.good is not None
        good = _os_count(ratio.good, ratio.counter, f"{base}.good", problems, where)
        error = f"{total} - {good}" if total and good else None
    if error is None or total is None:
        return
    labels = {
        re.sub(r"[^A-Za-z0-9_]", "_", key): ",".join(value) if isinstance(value, list) else value
        for key, value in doc.metadata.labels.items()
    }
    slo = SLO(
        service=spec.service,
        name=doc.metadata.name,
        objective=round(spec.objectives[0].fraction, 12),
        period=_duration(spec.timeWindow[0].duration),
        error_query=error,
        total_query=total,
        counts_are_rates=False,
        description=spec.description or doc.metadata.displayName or "",
        source=source,
        labels=labels,
    )
    yield Loaded(slo, where, "metadata.name")
