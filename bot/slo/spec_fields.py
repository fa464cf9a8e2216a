"""What the Sloth and OpenSLO readers share: checks of names, labels, PromQL and objectives, the
strict base of their raw models, and the record of one SLO read from a file.

A module of its own so that `sloth` and `openslo` each hold one upstream format and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ConfigDict

from bot.slo.model import SLO, WINDOW_PLACEHOLDER

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RATE = re.compile(r"(?<![\w:])i?rate\s*\(")
_INCREASE = re.compile(r"(?<![\w:])increase\s*\(")
_RATE_OF_AGGREGATE = re.compile(
    r"(?<![\w:])(?:i?rate|increase)\s*\(\s*(?:sum|avg|min|max|count|topk|bottomk|quantile)\b"
)


# --- shared field checks --------------------------------------------------------------------------


def spec_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"must start with a letter or digit and use only letters, digits, '.', '_', '-' (got {value!r})"
        )
    return value


def promql(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("PromQL query must not be empty")
    if _RATE_OF_AGGREGATE.search(value):
        raise ValueError(
            "takes the rate of an aggregation, which breaks on counter resets; use sum(rate(...))"
        )
    return value


def windowed_promql(value: str) -> str:
    value = promql(value)
    if WINDOW_PLACEHOLDER not in value:
        raise ValueError(
            f"must contain {WINDOW_PLACEHOLDER} so it can be evaluated over each burn-rate window"
        )
    return value


def label_names(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not _LABEL_NAME.fullmatch(key) or key.startswith("__"):
            raise ValueError(f"{key!r} is not a Prometheus label name")
    return labels


def counts_are_rates(error: str, total: str) -> bool:
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


RAW_CONFIG = ConfigDict(extra="forbid", frozen=True)
"""For the raw upstream shapes: an unknown key is a typo to report, and a spec read is never changed."""


def check_objective(value: float, scale: int) -> float:
    shown = f"{value:g}"
    if value == scale:
        raise ValueError(f"must be below {scale}: a 100 % objective leaves no error budget (got {shown})")
    if not 0 < value < scale:
        raise ValueError(f"must be between 0 and {scale} (got {shown})")
    return value


@dataclass(frozen=True)
class Loaded:
    slo: SLO
    where: str
    field: str
    """Field path of the SLO's name, for the duplicate-id message."""
