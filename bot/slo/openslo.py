"""OpenSLO (`apiVersion: openslo/v1`, `kind: SLO`) specs: the raw shape, and its conversion into `SLO`.

The larger of the two formats: only ratio metrics over rolling windows with Occurrences budgeting map
onto `SLO`, and plain counter selectors are turned into event counts over each burn-rate window, so
most of the refusals (with their reasons) live here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bot.problems import Problems
from bot.slo.model import SLO, WINDOW_PLACEHOLDER
from bot.slo.spec_fields import RAW_CONFIG, Loaded, check_objective, counts_are_rates, promql, spec_name

OPENSLO_API_VERSION = "openslo/v1"
DEFAULT_PERIOD = timedelta(days=30)
"""OpenSLO leaves `timeWindow` optional; Sloth's default, and the period the burn factors are made for."""
MIN_PERIOD = timedelta(days=3)
"""The longest burn-rate window; a shorter period would make the ticket alert meaningless."""

OPENSLO_IGNORED_KINDS = frozenset(
    {"Service", "DataSource", "SLI", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
)
"""OpenSLO kinds bundled with SLOs that are not SLOs themselves (SLIs and DataSources are read as
references by `References`)."""

_SELECTOR = re.compile(
    r"""\s*(?:[A-Za-z_:][A-Za-z0-9_:]*)?\s*"""
    r"""(?:\{(?:[^{}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})?\s*"""
)
_ROLLING = re.compile(r"(\d+)(m|h|d|w)")
_ROLLING_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class _Raw(BaseModel):
    model_config = RAW_CONFIG


class OSMetadata(_Raw):
    name: str
    displayName: str | None = None
    labels: dict[str, str | list[str]] = {}
    annotations: dict[str, str] = {}

    check_name = field_validator("name")(spec_name)


class _OSPrometheusSpec(_Raw):
    query: str

    check_query = field_validator("query")(promql)


def _prometheus(value: str | None) -> str | None:
    if value is not None and value.lower() != "prometheus":
        raise ValueError(f"only Prometheus metric sources are supported (got {value!r})")
    return value


class _OSMetricSource(_Raw):
    type: str | None = None
    """Optional beside `metricSourceRef`: then the referenced DataSource's type."""
    metricSourceRef: str | None = None
    spec: _OSPrometheusSpec

    check_type = field_validator("type")(_prometheus)


class _OSMetric(_Raw):
    metricSource: _OSMetricSource


class _OSRatioMetric(_Raw):
    counter: bool = True
    """Left out by OpenSLO's own examples; Prometheus request metrics are counters."""
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
    description: str = ""
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
    indicator: _OSIndicator | None = None
    indicatorRef: str | None = None
    """A composite SLO's objectives each name their own indicator; each becomes an SLO of its own."""
    compositeWeight: float | None = None

    @field_validator("target")
    @classmethod
    def _fraction(cls, value: float) -> float:
        return check_objective(value, 1)

    @field_validator("targetPercent")
    @classmethod
    def _percent(cls, value: float) -> float:
        return check_objective(value, 100)

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
    timeWindow: list[_OSTimeWindow] | None = None
    """Optional in OpenSLO; without it the period is `DEFAULT_PERIOD`, as for Sloth specs."""
    budgetingMethod: str
    objectives: list[_OSObjective] = Field(min_length=1)
    alertPolicies: list[Any] | None = None
    """Accepted (often left empty); the bot generates its own alerts (`incidentbot slo rules`)."""

    check_name = field_validator("service")(spec_name)

    @field_validator("timeWindow")
    @classmethod
    def _exactly_one(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"exactly one time window is allowed (got {len(value)})")
        return value

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
        own = all(o.indicator is not None or o.indicatorRef is not None for o in self.objectives)
        if self.indicator is None and self.indicatorRef is None and not own:
            raise ValueError("give indicator or indicatorRef (or one per objective, for a composite SLO)")
        return self

    @property
    def period(self) -> timedelta:
        return _duration(self.timeWindow[0].duration) if self.timeWindow else DEFAULT_PERIOD


class OpenSLO(_Raw):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: OSMetadata
    spec: _OSSpec


class OpenSLOIndicator(_Raw):
    """A standalone `kind: SLI` document, which SLOs name with `indicatorRef`."""

    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLI"]
    metadata: OSMetadata
    spec: _OSIndicatorSpec


@dataclass
class References:
    """What SLOs may name from other documents of the loaded files: SLIs and DataSources."""

    indicators: dict[str, _OSIndicatorSpec] = dataclass_field(default_factory=dict)
    source_types: dict[str, str] = dataclass_field(default_factory=dict)

    def collect(self, document: dict[str, Any], where: str, problems: Problems) -> None:
        kind, name = document.get("kind"), (document.get("metadata") or {}).get("name")
        if kind == "DataSource" and isinstance(name, str):
            source_type = (document.get("spec") or {}).get("type")
            if isinstance(source_type, str):
                self.source_types[name] = source_type
        elif kind == "SLI":
            try:
                indicator = OpenSLOIndicator.model_validate(document)
            except ValidationError as exc:
                problems.validation(where, exc)
                return
            self.indicators[indicator.metadata.name] = indicator.spec


def _duration(text: str) -> timedelta:
    match = _ROLLING.fullmatch(text.strip())
    assert match
    return timedelta(**{_ROLLING_UNITS[match.group(2)]: int(match.group(1))})


def _is_selector(query: str) -> bool:
    return bool(query.strip()) and query.strip() not in ("{}",) and _SELECTOR.fullmatch(query) is not None


def _os_count(
    metric: _OSMetric, counter: bool, path: str, problems: Problems, where: str, refs: References
) -> str | None:
    """Event count over `{{.window}}` for one OpenSLO metric; None (plus a problem) if not windowable."""
    source = metric.metricSource
    if source.type is None:
        named = refs.source_types.get(source.metricSourceRef or "")
        if named is None:
            problems.add(
                where,
                f"{path}.metricSource",
                "give type: Prometheus, or a metricSourceRef naming a DataSource in the loaded files"
                + (f" (none is named {source.metricSourceRef!r})" if source.metricSourceRef else ""),
            )
            return None
        if named.lower() != "prometheus":
            problems.add(
                where,
                f"{path}.metricSource.metricSourceRef",
                f"DataSource {source.metricSourceRef!r} is of type {named!r}; only Prometheus is supported",
            )
            return None
    return windowed_count(source.spec.query, counter, f"{path}.metricSource.spec.query", problems, where)


def windowed_count(query: str, counter: bool, field: str, problems: Problems, where: str) -> str | None:
    """A query as an event count over `{{.window}}`: as written when it has the placeholder, else a
    plain counter selector wrapped in `sum(increase(…))`; None (plus a problem) otherwise."""
    if WINDOW_PLACEHOLDER in query:
        return f"({query})"
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


def error_and_total(
    total: str | None, good: str | None, bad: str | None, has_good: bool
) -> tuple[str | None, str | None]:
    """OpenSLO counts good or bad events; the SLO model counts bad ones (bad = total - good)."""
    if has_good:
        return (f"{total} - {good}" if total and good else None), total
    return bad, total


def rates_or_counts(error: str, total: str, where: str, problems: Problems) -> bool | None:
    """Whether the queries are per-second rates (see `counts_are_rates`); None (plus a problem) if mixed."""
    try:
        return counts_are_rates(error, total)
    except ValueError as exc:
        problems.add(where, "spec", str(exc))
        return None


def objective_names(name: str, displays: list[str | None]) -> list[str]:
    """One SLO per objective: the SLO's own name for one, `<slo>-<objective>` for several."""
    if len(displays) == 1:
        return [name]
    names = []
    for number, display in enumerate(displays, 1):
        slug = re.sub(r"[^a-z0-9]+", "-", (display or "").lower()).strip("-")
        names.append(f"{name}-{slug or number}")
    return names


def metadata_labels(metadata: OSMetadata) -> dict[str, str]:
    return {
        re.sub(r"[^A-Za-z0-9_]", "_", key): ",".join(value) if isinstance(value, list) else value
        for key, value in metadata.labels.items()
    }


def _indicator(
    objective: _OSObjective, spec: _OSSpec, index: int, where: str, problems: Problems, refs: References
) -> tuple[_OSIndicatorSpec, str] | None:
    """The objective's own indicator (composite SLOs), else the SLO's; a reference is looked up."""
    own = objective.indicator is not None or objective.indicatorRef is not None
    inline = objective.indicator if own else spec.indicator
    ref = objective.indicatorRef if own else spec.indicatorRef
    base = f"spec.objectives[{index}]" if own else "spec"
    if inline is not None:
        return inline.spec, f"{base}.indicator.spec"
    assert ref is not None
    found = refs.indicators.get(ref)
    if found is None:
        problems.add(where, f"{base}.indicatorRef", f"no SLI named {ref!r} in the loaded files")
        return None
    return found, f"SLI {ref!r} spec"


def from_openslo(
    doc: OpenSLO, source: str, where: str, problems: Problems, refs: References | None = None
) -> Iterator[Loaded]:
    refs = refs or References()
    spec = doc.spec
    names = objective_names(doc.metadata.name, [o.displayName for o in spec.objectives])
    for index, (objective, name) in enumerate(zip(spec.objectives, names, strict=True)):
        found = _indicator(objective, spec, index, where, problems, refs)
        if found is None:
            continue
        indicator, base = found
        ratio = indicator.ratioMetric
        assert ratio is not None and ratio.total is not None
        path = f"{base}.ratioMetric"
        total = _os_count(ratio.total, ratio.counter, f"{path}.total", problems, where, refs)
        good = bad = None
        if ratio.good is not None:
            good = _os_count(ratio.good, ratio.counter, f"{path}.good", problems, where, refs)
        else:
            assert ratio.bad is not None
            bad = _os_count(ratio.bad, ratio.counter, f"{path}.bad", problems, where, refs)
        error, total = error_and_total(total, good, bad, ratio.good is not None)
        rates = None if error is None or total is None else rates_or_counts(error, total, where, problems)
        if error is None or total is None or rates is None:
            continue
        slo = SLO(
            service=spec.service,
            name=name,
            objective=round(objective.fraction, 12),
            period=spec.period,
            error_query=error,
            total_query=total,
            counts_are_rates=rates,
            description=spec.description or indicator.description or doc.metadata.displayName or "",
            source=source,
            labels=metadata_labels(doc.metadata),
            spec=OPENSLO_API_VERSION,
            objective_text=repr(round(objective.fraction * 100, 10)).removesuffix(".0"),
        )
        yield Loaded(slo, where, "metadata.name")
