"""Sloth (`version: prometheus/v1`) SLO specs: the raw shape as Sloth documents it, converted into `SLO`.

Sloth files carry event or ratio queries with a `{{.window}}` placeholder and no period, so they map
onto `SLO` almost directly; OpenSLO, which needs more translating, is in `openslo`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from bot.slo.model import SLO, Alerting, AlertSpec
from bot.slo.spec_fields import (
    RAW_CONFIG,
    Loaded,
    check_objective,
    counts_are_rates,
    label_names,
    spec_name,
    windowed_promql,
)

SLOTH_VERSION = "prometheus/v1"
SLOTH_K8S_API_VERSION = "sloth.slok.dev/v1"
SLOTH_K8S_KIND = "PrometheusServiceLevel"
_K8S_FIELDS = {
    "errorQuery": "error_query",
    "totalQuery": "total_query",
    "errorRatioQuery": "error_ratio_query",
    "pageAlert": "page_alert",
    "ticketAlert": "ticket_alert",
    "sloPlugins": "slo_plugins",
}
_PLUGINS = "Sloth SLO plugins are not supported; write the SLI as sli.events or sli.raw"
SLOTH_PERIOD = timedelta(days=30)
"""Sloth specs carry no period; Sloth itself defaults to 30 days, and so do we."""


def _text(value: Any) -> Any:
    """Sloth reads label values into strings, so `tier: 2` and `critical: true` are "2" and "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _texts(value: Any) -> Any:
    return {key: _text(item) for key, item in value.items()} if isinstance(value, dict) else value


Labels = Annotated[dict[str, str], BeforeValidator(_texts)]


def _no_plugins(value: object) -> object:
    raise ValueError(_PLUGINS)


def from_k8s(document: dict[str, Any]) -> dict[str, Any]:
    """A `PrometheusServiceLevel`'s spec (camelCase, as the CRD has it) as a `prometheus/v1` document."""

    def snake(value: Any, key: str | None = None) -> Any:
        if key in ("labels", "annotations"):
            return value  # people's own keys, kept as written
        if isinstance(value, dict):
            return {_K8S_FIELDS.get(k, k): snake(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [snake(item) for item in value]
        return value

    spec = document.get("spec")
    return {"version": SLOTH_VERSION, **snake(spec if isinstance(spec, dict) else {})}


class _Raw(BaseModel):
    model_config = RAW_CONFIG


class _SlothEvents(_Raw):
    error_query: str
    total_query: str

    check_windowed = field_validator("error_query", "total_query")(windowed_promql)

    @model_validator(mode="after")
    def _same_kind(self) -> _SlothEvents:
        counts_are_rates(self.error_query, self.total_query)
        return self


class _SlothRawSLI(_Raw):
    error_ratio_query: str

    check_windowed = field_validator("error_ratio_query")(windowed_promql)


class _SlothSLI(_Raw):
    events: _SlothEvents | None = None
    raw: _SlothRawSLI | None = None
    plugin: dict[str, Any] | None = None

    check_plugin = field_validator("plugin")(_no_plugins)

    @model_validator(mode="after")
    def _one_kind(self) -> _SlothSLI:
        if self.plugin is None and (self.events is None) == (self.raw is None):
            raise ValueError("give exactly one of sli.events or sli.raw")
        return self


class _SlothAlert(_Raw):
    disable: bool = False
    labels: Labels = {}
    annotations: Labels = {}

    check_labels = field_validator("labels")(label_names)

    def spec(self) -> AlertSpec:
        return AlertSpec(not self.disable, dict(self.labels), dict(self.annotations))


class _SlothAlerting(_Raw):
    name: str | None = None
    labels: Labels = {}
    annotations: Labels = {}
    page_alert: _SlothAlert = _SlothAlert()
    ticket_alert: _SlothAlert = _SlothAlert()

    check_labels = field_validator("labels")(label_names)

    def model(self) -> Alerting:
        return Alerting(
            self.name,
            dict(self.labels),
            dict(self.annotations),
            self.page_alert.spec(),
            self.ticket_alert.spec(),
        )


class _SlothSLO(_Raw):
    name: str
    objective: float
    """Percent, e.g. 99.9."""
    description: str = ""
    labels: Labels = {}
    sli: _SlothSLI
    alerting: _SlothAlerting | None = None
    plugins: dict[str, Any] | None = None

    check_name = field_validator("name")(spec_name)
    check_labels = field_validator("labels")(label_names)
    check_plugins = field_validator("plugins")(_no_plugins)

    @field_validator("objective")
    @classmethod
    def _percent(cls, value: float) -> float:
        return check_objective(value, 100)


class SlothSpec(_Raw):
    version: Literal["prometheus/v1"]
    service: str
    labels: Labels = {}
    slos: list[_SlothSLO] = Field(min_length=1)
    slo_plugins: dict[str, Any] | None = None

    check_name = field_validator("service")(spec_name)
    check_labels = field_validator("labels")(label_names)
    check_plugins = field_validator("slo_plugins")(_no_plugins)


def from_sloth(
    spec: SlothSpec, source: str, where: str, format_name: str = SLOTH_VERSION
) -> Iterator[Loaded]:
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
            "alerting": raw.alerting.model() if raw.alerting else None,
            "spec": format_name,
            "objective_text": repr(raw.objective).removesuffix(".0"),
        }
        if sli.events is not None:
            events = sli.events
            slo = SLO(
                **common,
                error_query=events.error_query,
                total_query=events.total_query,
                counts_are_rates=counts_are_rates(events.error_query, events.total_query),
            )
        else:
            assert sli.raw is not None
            slo = SLO(**common, ratio_query=sli.raw.error_ratio_query)
        yield Loaded(slo, where, f"slos[{index}].name")
