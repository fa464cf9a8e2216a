"""Load Sloth (`prometheus/v1`) and OpenSLO (`openslo/v1`) SLO specs into the one internal `SLO` model.

People bring the SLO files they already have, so both formats are read as written upstream; the raw shapes
are pydantic models (so typos are caught at the edge) and are then converted into `SLO`. Every problem in
every file is collected before anything is raised, and each names the file, the field and the reason,
because the person fixing a spec should see all of them in one `incidentbot config check` run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config import AppConfig, ConfigError
from bot.config_problems import Problems, yaml_documents
from bot.slo.model import SLO, WINDOW_PLACEHOLDER

SLOTH_VERSION = "prometheus/v1"
OPENSLO_API_VERSION = "openslo/v1"
SUPPORTED_FORMATS = (
    f'Sloth (version: "{SLOTH_VERSION}") or OpenSLO (apiVersion: {OPENSLO_API_VERSION}, kind: SLO)'
)
SLOTH_PERIOD = timedelta(days=30)
"""Sloth specs carry no period; Sloth itself defaults to 30 days, and so do we."""
MIN_PERIOD = timedelta(days=3)
"""The longest burn-rate window; a shorter period would make the ticket alert meaningless."""
SPEC_SUFFIXES = (".yml", ".yaml")

OPENSLO_IGNORED_KINDS = frozenset(
    {"Service", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
)
"""OpenSLO kinds that are routinely bundled with SLOs but carry nothing the bot computes from."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RATE = re.compile(r"(?<![\w:])i?rate\s*\(")
_INCREASE = re.compile(r"(?<![\w:])increase\s*\(")
_RATE_OF_AGGREGATE = re.compile(
    r"(?<![\w:])(?:i?rate|increase)\s*\(\s*(?:sum|avg|min|max|count|topk|bottomk|quantile)\b"
)
_SELECTOR = re.compile(
    r"""\s*(?:[A-Za-z_:][A-Za-z0-9_:]*)?\s*"""
    r"""(?:\{(?:[^{}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})?\s*"""
)
_ROLLING = re.compile(r"(\d+)(m|h|d|w)")
_ROLLING_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class SLOSpecError(ConfigError):
    """Every problem found in the SLO specs, each worded as `file: field: reason`.

    A `ConfigError` so that whatever reports config problems reports these too.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in SLO specs:\n" + "\n".join(f"  {p}" for p in problems)
        )


# --- shared field checks --------------------------------------------------------------------------


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"must start with a letter or digit and use only letters, digits, '.', '_', '-' (got {value!r})"
        )
    return value


def _query(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("PromQL query must not be empty")
    if _RATE_OF_AGGREGATE.search(value):
        raise ValueError(
            "takes the rate of an aggregation, which breaks on counter resets; use sum(rate(...))"
        )
    return value


def _windowed(value: str) -> str:
    value = _query(value)
    if WINDOW_PLACEHOLDER not in value:
        raise ValueError(
            f"must contain {WINDOW_PLACEHOLDER} so it can be evaluated over each burn-rate window"
        )
    return value


def _label_names(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not _LABEL_NAME.fullmatch(key) or key.startswith("__"):
            raise ValueError(f"{key!r} is not a Prometheus label name")
    return labels


def _counts_are_rates(error: str, total: str) -> bool:
    """Sloth queries are conventionally rates, but people also write increase(); the two must not be mixed."""
    kinds = set()
    for query in (error, total):
        if _RATE.search(query):
            kinds.add("rate")
        elif _INCREASE.search(query):
            kinds.add("increase")
    if len(kinds) > 1:
        raise ValueError("error_query and total_query must both use rate() or both use increase()")
    return kinds != {"increase"}


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- Sloth prometheus/v1 --------------------------------------------------------------------------


class _SlothEvents(_Raw):
    error_query: str
    total_query: str

    check_windowed = field_validator("error_query", "total_query")(_windowed)

    @model_validator(mode="after")
    def _same_kind(self) -> _SlothEvents:
        _counts_are_rates(self.error_query, self.total_query)
        return self


class _SlothRawSLI(_Raw):
    error_ratio_query: str

    check_windowed = field_validator("error_ratio_query")(_windowed)


class _SlothSLI(_Raw):
    events: _SlothEvents | None = None
    raw: _SlothRawSLI | None = None
    plugin: dict[str, Any] | None = None

    @field_validator("plugin")
    @classmethod
    def _no_plugins(cls, value: object) -> object:
        raise ValueError("Sloth SLI plugins are not supported; use sli.events or sli.raw")

    @model_validator(mode="after")
    def _one_kind(self) -> _SlothSLI:
        if self.plugin is None and (self.events is None) == (self.raw is None):
            raise ValueError("give exactly one of sli.events or sli.raw")
        return self


class _SlothSLO(_Raw):
    name: str
    objective: float
    """Percent, e.g. 99.9."""
    description: str = ""
    labels: dict[str, str] = {}
    sli: _SlothSLI
    alerting: dict[str, Any] | None = None
    """Accepted so existing Sloth files load; the bot generates its own alerts (`incidentbot slo rules`)."""

    check_name = field_validator("name")(_name)
    check_labels = field_validator("labels")(_label_names)

    @field_validator("objective")
    @classmethod
    def _percent(cls, value: float) -> float:
        return _check_objective(value, 100)


class _SlothSpec(_Raw):
    version: Literal["prometheus/v1"]
    service: str
    labels: dict[str, str] = {}
    slos: list[_SlothSLO] = Field(min_length=1)

    check_name = field_validator("service")(_name)
    check_labels = field_validator("labels")(_label_names)


def _check_objective(value: float, scale: int) -> float:
    shown = f"{value:g}"
    if value == scale:
        raise ValueError(f"must be below {scale}: a 100 % objective leaves no error budget (got {shown})")
    if not 0 < value < scale:
        raise ValueError(f"must be between 0 and {scale} (got {shown})")
    return value


# --- OpenSLO v1 -----------------------------------------------------------------------------------


class _OSMetadata(_Raw):
    name: str
    displayName: str | None = None
    labels: dict[str, str | list[str]] = {}
    annotations: dict[str, str] = {}

    check_name = field_validator("name")(_name)


class _OSPrometheusSpec(_Raw):
    query: str

    check_query = field_validator("query")(_query)


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
        return _check_objective(value, 1)

    @field_validator("targetPercent")
    @classmethod
    def _percent(cls, value: float) -> float:
        return _check_objective(value, 100)

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

    check_name = field_validator("service")(_name)

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


class _OpenSLO(_Raw):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: _OSMetadata
    spec: _OSSpec


def _duration(text: str) -> timedelta:
    match = _ROLLING.fullmatch(text.strip())
    assert match
    return timedelta(**{_ROLLING_UNITS[match.group(2)]: int(match.group(1))})


# --- conversion -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    slo: SLO
    where: str
    field: str
    """Field path of the SLO's name, for the duplicate-id message."""


def _from_sloth(spec: _SlothSpec, source: str, where: str) -> Iterator[_Loaded]:
    for index, raw in enumerate(spec.slos):
        sli = raw.sli
        common: dict[str, Any] = {
            "service": spec.service,
            "name": raw.name,
            "objective": round(raw.objective / 100, 12),
            "period": SLOTH_PERIOD,
            "description": raw.description,
            "source": source,
            "labels": {**spec.labels, **raw.labels},
        }
        if sli.events is not None:
            events = sli.events
            slo = SLO(
                **common,
                error_query=events.error_query,
                total_query=events.total_query,
                counts_are_rates=_counts_are_rates(events.error_query, events.total_query),
            )
        else:
            assert sli.raw is not None
            slo = SLO(**common, ratio_query=sli.raw.error_ratio_query)
        yield _Loaded(slo, where, f"slos[{index}].name")


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


def _from_openslo(doc: _OpenSLO, source: str, where: str, problems: Problems) -> Iterator[_Loaded]:
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
    yield _Loaded(slo, where, "metadata.name")


# --- files ----------------------------------------------------------------------------------------


def _spec_files(paths: list[Path], problems: Problems) -> Iterator[tuple[Path, bool]]:
    """Files to read, each once, with whether the user named it explicitly (vs. found it in a directory)."""
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix in SPEC_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            candidates = [(p, False) for p in found]
        elif path.is_file():
            candidates = [(path, True)]
        else:
            problems.add(str(path), None, "no such file or directory")
            continue
        for file, explicit in candidates:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                yield file, explicit


def _load_file(file: Path, explicit: bool, problems: Problems) -> Iterator[_Loaded]:
    for where, document in yaml_documents(file, problems):
        yield from _load_document(document, str(file), where, explicit, problems)


def _load_document(
    document: Any, source: str, where: str, explicit: bool, problems: Problems
) -> Iterator[_Loaded]:
    if not isinstance(document, dict):
        problems.add(where, None, f"the top level must be a mapping: {SUPPORTED_FORMATS}")
        return
    if "groups" in document or "rule_files" in document:
        # Generated rules and their promtool tests often live next to the specs they came from.
        if explicit:
            problems.add(
                where,
                None,
                f"a Prometheus rules or promtool test file, not an SLO spec ({SUPPORTED_FORMATS})",
            )
        return
    if "version" in document:
        if document["version"] != SLOTH_VERSION:
            problems.add(
                where,
                "version",
                f"unsupported version {document['version']!r}; supported: {SUPPORTED_FORMATS}",
            )
            return
        try:
            sloth = _SlothSpec.model_validate(document)
        except ValidationError as exc:
            problems.validation(where, exc)
            return
        yield from _from_sloth(sloth, source, where)
        return
    if "apiVersion" in document:
        yield from _load_openslo(document, source, where, problems)
        return
    problems.add(where, None, f"not an SLO spec (no version or apiVersion); supported: {SUPPORTED_FORMATS}")


def _load_openslo(document: dict[str, Any], source: str, where: str, problems: Problems) -> Iterator[_Loaded]:
    api, kind = document.get("apiVersion"), document.get("kind")
    if api != OPENSLO_API_VERSION:
        problems.add(where, "apiVersion", f"unsupported apiVersion {api!r}; supported: {SUPPORTED_FORMATS}")
        return
    if kind in OPENSLO_IGNORED_KINDS:
        return
    if kind == "SLI":
        problems.add(
            where,
            "kind",
            "standalone SLI documents are not supported (indicatorRef is not supported); "
            "inline the indicator under spec.indicator of the SLO",
        )
        return
    if kind != "SLO":
        problems.add(where, "kind", f"unsupported kind {kind!r}; supported: {SUPPORTED_FORMATS}")
        return
    try:
        openslo = _OpenSLO.model_validate(document)
    except ValidationError as exc:
        problems.validation(where, exc)
        return
    yield from _from_openslo(openslo, source, where, problems)


def load_slos(paths: list[Path]) -> list[SLO]:
    """Load SLO spec files and directories (`*.yml`/`*.yaml`, recursively, in sorted order).

    Raises `SLOSpecError` listing every problem in every file, so one run shows everything to fix.
    """
    problems = Problems()
    loaded: list[_Loaded] = []
    for file, explicit in _spec_files(paths, problems):
        loaded.extend(_load_file(file, explicit, problems))
    first: dict[str, _Loaded] = {}
    for item in loaded:
        earlier = first.setdefault(item.slo.id, item)
        if earlier is not item:
            problems.add(
                item.where, item.field, f"duplicate SLO id {item.slo.id!r} (first defined in {earlier.where})"
            )
    if problems.items:
        raise SLOSpecError(problems.items)
    return [item.slo for item in loaded]


def configured_slos(config: AppConfig, config_path: Path) -> list[SLO]:
    """The SLOs named by the config's `slos:`, whose relative paths are relative to the config file."""
    base = config_path.parent
    return load_slos([path if path.is_absolute() else base / path for path in config.slos])
