"""OpenSLO `v1alpha` SLOs (the shape Sloth reads): `ratioMetrics` per objective and `timeWindows`.

Older than `openslo/v1` but still what many repositories hold, so it is read into the same `SLO` with the
same rules: Prometheus sources only, rolling windows, Occurrences budgeting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from bot.problems import Problems
from bot.slo.model import SLO
from bot.slo.openslo import (
    DEFAULT_PERIOD,
    MIN_PERIOD,
    OSMetadata,
    error_and_total,
    metadata_labels,
    rates_or_counts,
    windowed_count,
)
from bot.slo.spec_fields import RAW_CONFIG, Loaded, check_objective, promql, spec_name

OPENSLO_V1ALPHA = "openslo/v1alpha"
_UNITS = {"Minute": "minutes", "Hour": "hours", "Day": "days", "Week": "weeks"}


class _Raw(BaseModel):
    model_config = RAW_CONFIG


class _Metric(_Raw):
    source: str
    queryType: str = "promql"
    query: str

    check_query = field_validator("query")(promql)

    @field_validator("source")
    @classmethod
    def _prometheus(cls, value: str) -> str:
        if value.lower() != "prometheus":
            raise ValueError(f"only Prometheus metric sources are supported (got {value!r})")
        return value


class _RatioMetrics(_Raw):
    incremental: bool = True
    """True: the queries are counters (OpenSLO v1's `counter`)."""
    good: _Metric | None = None
    bad: _Metric | None = None
    total: _Metric

    @model_validator(mode="after")
    def _good_or_bad(self) -> _RatioMetrics:
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of good or bad")
        return self


class _Objective(_Raw):
    displayName: str | None = None
    target: float
    ratioMetrics: _RatioMetrics | None = None
    op: str | None = None
    value: float | None = None
    timeSliceTarget: float | None = None

    @field_validator("target")
    @classmethod
    def _fraction(cls, value: float) -> float:
        return check_objective(value, 1)

    @model_validator(mode="after")
    def _ratio(self) -> _Objective:
        if self.ratioMetrics is None:
            raise ValueError("ratioMetrics is required (threshold objectives are not supported)")
        return self


class _TimeWindow(_Raw):
    count: int = Field(gt=0)
    unit: str
    isRolling: bool = True
    calendar: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _rolling(self) -> _TimeWindow:
        if not self.isRolling or self.calendar is not None:
            raise ValueError("calendar-aligned windows are not supported; use a rolling window")
        if self.unit not in _UNITS:
            raise ValueError(
                f"unit must be one of {', '.join(_UNITS)} for a rolling window (got {self.unit!r})"
            )
        if self.period < MIN_PERIOD:
            raise ValueError("must be at least 3 days, the longest burn-rate window")
        return self

    @property
    def period(self) -> timedelta:
        return timedelta(**{_UNITS[self.unit]: self.count})


class _Spec(_Raw):
    service: str
    description: str = ""
    budgetingMethod: str
    objectives: list[_Objective] = Field(min_length=1)
    timeWindows: list[_TimeWindow] | None = None
    alertPolicies: list[Any] | None = None

    check_name = field_validator("service")(spec_name)

    @field_validator("budgetingMethod")
    @classmethod
    def _occurrences(cls, value: str) -> str:
        if value != "Occurrences":
            raise ValueError(f"only Occurrences is supported (got {value!r})")
        return value

    @field_validator("timeWindows")
    @classmethod
    def _one(cls, value: list[_TimeWindow] | None) -> list[_TimeWindow] | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"exactly one time window is allowed (got {len(value)})")
        return value


class OpenSLOv1Alpha(_Raw):
    apiVersion: Literal["openslo/v1alpha"]
    kind: Literal["SLO"]
    metadata: OSMetadata
    spec: _Spec


def from_v1alpha(doc: OpenSLOv1Alpha, source: str, where: str, problems: Problems) -> Iterator[Loaded]:
    spec = doc.spec
    period = spec.timeWindows[0].period if spec.timeWindows else DEFAULT_PERIOD
    names = [f"{doc.metadata.name}-{index}" for index in range(len(spec.objectives))]  # Sloth's ids
    for index, (objective, name) in enumerate(zip(spec.objectives, names, strict=True)):
        ratio = objective.ratioMetrics
        assert ratio is not None
        path = f"spec.objectives[{index}].ratioMetrics"

        def count(
            metric: _Metric | None, part: str, ratio: _RatioMetrics = ratio, path: str = path
        ) -> str | None:
            if metric is None:
                return None
            return windowed_count(metric.query, ratio.incremental, f"{path}.{part}.query", problems, where)

        error, total = error_and_total(
            count(ratio.total, "total"),
            count(ratio.good, "good"),
            count(ratio.bad, "bad"),
            ratio.good is not None,
        )
        rates = None if error is None or total is None else rates_or_counts(error, total, where, problems)
        if error is None or total is None or rates is None:
            continue
        yield Loaded(
            SLO(
                service=spec.service,
                name=name,
                objective=round(objective.target, 12),
                period=period,
                error_query=error,
                total_query=total,
                counts_are_rates=rates,
                description=spec.description or doc.metadata.displayName or "",
                source=source,
                labels=metadata_labels(doc.metadata),
                spec=OPENSLO_V1ALPHA,
                objective_text=repr(round(objective.target * 100, 10)).removesuffix(".0"),
            ),
            where,
            "metadata.name",
        )
