"""Sloth (`version: prometheus/v1`) SLO specs: the raw shape as Sloth documents it, converted into `SLO`.

Sloth files carry event or ratio queries with a `{{.window}}` placeholder and no period, so they map
onto `SLO` almost directly; OpenSLO, which needs more translating, is in `openslo`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from bot.slo.model import SLO
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
SLOTH_PERIOD = timedelta(days=30)
"""Sloth specs carry no period; Sloth itself defaults to 30 days, and so do we."""


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

    check_name = field_validator("name")(spec_name)
    check_labels = field_validator("labels")(label_names)

    @field_validator("objective")
    @classmethod
    def _percent(cls, value: float) -> float:
        return check_objective(value, 100)


class SlothSpec(_Raw):
    version: Literal["prometheus/v1"]
    service: str
    labels: dict[str, str] = {}
    slos: list[_SlothSLO] = Field(min_length=1)

    check_name = field_validator("service")(spec_name)
    check_labels = field_validator("labels")(label_names)


def from_sloth(spec: SlothSpec, source: str, where: str) -> Iterator[Loaded]:
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
                counts_are_rates=counts_are_rates(events.error_query, events.total_query),
            )
        else:
            assert sli.raw is not None
            slo = SLO(**common, ratio_query=sli.raw.error_ratio_query)
        yield Loaded(slo, where, f"slos[{index}].name")
