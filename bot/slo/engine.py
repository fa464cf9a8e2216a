"""SLO figures from Prometheus: SLI, error budget, burn rates, multiwindow alert state, budget history.

All figures come from the SLO's own queries over raw counters (`sum(rate(...[30d]))` for the period), never
from recording-rule averages, whose averaging of averages drifts from the true ratio. Every SLO × window
query runs concurrently through the client's bounded pool; one SLO's bad query never hides the others, and
an unreachable Prometheus is detected once and reported for all SLOs instead of timing out query by query.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, TypeVar

from bot.slo.batching import Group, group_slos
from bot.slo.model import BURN_WINDOWS, SLO, AlertState, SLOStatus, prom_duration
from bot.slo.prometheus import (
    NotGrouped,
    PrometheusClient,
    PrometheusQueryError,
    PrometheusSlow,
    PrometheusUnreachable,
    to_utc,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class AlertRule:
    """One multiwindow pair: fire when both windows burn faster than the factor for `long`."""

    severity: AlertState
    long: str
    short: str
    budget_share: Fraction
    """Share of the period's budget that burning at the factor for `long` would consume within `long`."""


# The Google SRE workbook's pairs; for a 30-day period they give the familiar 14.4 / 6 / 3 / 1.
ALERT_RULES = (
    AlertRule("page", "1h", "5m", Fraction(2, 100)),
    AlertRule("page", "6h", "30m", Fraction(5, 100)),
    AlertRule("ticket", "1d", "2h", Fraction(10, 100)),
    AlertRule("ticket", "3d", "6h", Fraction(10, 100)),
)


def window_seconds(window: str) -> int:
    """Seconds in a simple Prometheus duration such as 5m, 6h or 30d."""
    unit = window[-1:]
    if unit not in _UNITS or not window[:-1].isdigit():
        raise ValueError(f"not a simple Prometheus duration: {window!r}")
    return int(window[:-1]) * _UNITS[unit]


def _exact_seconds(period: timedelta) -> Fraction:
    return Fraction(period // timedelta(microseconds=1), 1_000_000)


def burn_factors(period: timedelta) -> dict[str, float]:
    """Burn-rate threshold per long window, rescaled to the SLO's period: budget share · T / window.

    Computed with exact fractions so a 30-day period yields exactly 14.4, 6, 3 and 1 — the same numbers the
    generated Prometheus rules use, so the bot and Alertmanager never disagree at the boundary.
    """
    seconds = _exact_seconds(period)
    return {rule.long: float(rule.budget_share * seconds / window_seconds(rule.long)) for rule in ALERT_RULES}


def alert_state(error_ratios: dict[str, float | None], slo: SLO) -> AlertState:
    """Page or ticket when any pair fires; "ok" only when every pair could be checked.

    Compares each window's error ratio with `factor * budget` exactly as the generated rule does
    (`ratio > (14.4 * 0.001)`), not the burn rate with the factor: dividing first rounds differently, and
    the bot would then stay calm for values at which Prometheus already fires. A pair with a window lacking
    data can neither fire nor prove calm, so a quiet or stale service reads "no data", not "ok".
    """
    factors = burn_factors(slo.period)
    fired: set[str] = set()
    unknown = False
    for rule in ALERT_RULES:
        long_ratio, short_ratio = error_ratios.get(rule.long), error_ratios.get(rule.short)
        if long_ratio is None or short_ratio is None:
            unknown = True
            continue
        threshold = slo.alert_threshold(factors[rule.long])
        if long_ratio > threshold and short_ratio > threshold:
            fired.add(rule.severity)
    if "page" in fired:
        return "page"
    if "ticket" in fired:
        return "ticket"
    return "no data" if unknown else "ok"


class _Breaker:
    """Trips on the first "unreachable" so the other queries stop at once instead of each timing out."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._inflight: set[asyncio.Future[Any]] = set()

    def trip(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            for task in list(self._inflight):
                task.cancel()

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        if self.reason is not None:
            raise PrometheusUnreachable(self.reason)
        task = asyncio.ensure_future(make())
        self._inflight.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.reason is not None and (current is None or current.cancelling() == 0):
                raise PrometheusUnreachable(self.reason) from None
            raise
        except PrometheusUnreachable as exc:
            self.trip(str(exc))
            raise
        finally:
            self._inflight.discard(task)


def _history_instants(at: datetime, period: timedelta, points: int) -> tuple[list[datetime], timedelta]:
    # Whole milliseconds, so the instants are exactly the timestamps Prometheus evaluates the range query at.
    step = timedelta(milliseconds=(period // timedelta(milliseconds=1)) // points)
    return [at - step * (points - 1 - i) for i in range(points)], step


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def figure_queries(slo: SLO) -> dict[str, str]:
    """The instant queries of one SLO: the period ratio, each burn window's ratio, bad and total events."""
    period = prom_duration(slo.period)
    figures = {"period": slo.error_ratio_query(period)}
    figures.update({window: slo.error_ratio_query(window) for window in BURN_WINDOWS})
    if slo.error_query and slo.total_query:
        figures["bad"] = slo.bad_query(period)
        figures["total"] = slo.query(slo.total_query, period)
    return figures


def _failure_status(slo: SLO, at: datetime, failure: BaseException) -> SLOStatus:
    if isinstance(failure, PrometheusUnreachable | PrometheusSlow):
        return SLOStatus(slo, at, error=str(failure))
    if isinstance(failure, PrometheusQueryError):
        return SLOStatus(slo, at, error=f"bad query in SLO {slo.id}: {failure}")
    if not isinstance(failure, Exception):
        raise failure  # cancellation of evaluate itself, KeyboardInterrupt, …
    log.error("SLO %s could not be evaluated", slo.id, exc_info=failure)
    return SLOStatus(slo, at, error=f"could not evaluate SLO {slo.id}: {type(failure).__name__}: {failure}")


def _status(
    slo: SLO,
    at: datetime,
    values: dict[str, float | None],
    instants: list[datetime],
    points: list[tuple[datetime, float | None]],
) -> SLOStatus:
    seconds = slo.period.total_seconds()

    def events(value: float | None) -> float | None:
        if value is None:
            return None
        return value * seconds if slo.counts_are_rates else value

    error_ratios = {window: values.get(window) for window in BURN_WINDOWS}
    burn_rates = {
        window: None if ratio is None else ratio / slo.budget for window, ratio in error_ratios.items()
    }
    by_time = {_ms(moment): value for moment, value in points}
    history: list[float | None] = []
    for moment in instants:
        ratio = by_time.get(_ms(moment))
        history.append(None if ratio is None else 1.0 - ratio / slo.budget)
    return SLOStatus(
        slo=slo,
        at=at,
        error_ratio=values.get("period"),
        burn_rates=burn_rates,
        error_ratios=error_ratios,
        total_events=events(values.get("total")),
        bad_events=events(values.get("bad")),
        alert=alert_state(error_ratios, slo),
        budget_history=history,
    )


async def _evaluate_one(
    slo: SLO, client: PrometheusClient, at: datetime, history_points: int, breaker: _Breaker
) -> SLOStatus:
    figures = figure_queries(slo)
    jobs: dict[str, Callable[[], Awaitable[Any]]] = {"figures": lambda: client.query_figures(figures, at)}
    instants: list[datetime] = []
    if history_points > 0:
        instants, step = _history_instants(at, slo.period, history_points)
        jobs["history"] = lambda: client.query_range(figures["period"], instants[0], at, step)
    outcomes = await asyncio.gather(*(breaker.run(job) for job in jobs.values()), return_exceptions=True)
    failures = [r for r in outcomes if isinstance(r, BaseException)]
    if failures:
        worst = next((f for f in failures if isinstance(f, PrometheusUnreachable)), failures[0])
        return _failure_status(slo, at, worst)
    results = dict(zip(jobs, outcomes, strict=True))
    return _status(slo, at, results["figures"], instants, results.get("history", []))


async def _evaluate_group(
    group: Group, client: PrometheusClient, at: datetime, history_points: int, breaker: _Breaker
) -> list[SLOStatus]:
    """One grouped request for the figures (and one for the history) of every SLO in the group."""
    if group.label is None:
        return [await _evaluate_one(group.slos[0], client, at, history_points, breaker)]
    label, first = group.label, group.slos[0]
    figures = {name: group.query(name) for name in group.templates}
    jobs: dict[str, Callable[[], Awaitable[Any]]] = {
        "figures": lambda: client.query_grouped(figures, at, label)
    }
    instants: list[datetime] = []
    if history_points > 0:
        instants, step = _history_instants(at, first.period, history_points)
        jobs["history"] = lambda: client.query_range_grouped(figures["period"], instants[0], at, step, label)
    outcomes = await asyncio.gather(*(breaker.run(job) for job in jobs.values()), return_exceptions=True)
    failures = [r for r in outcomes if isinstance(r, BaseException)]
    if any(isinstance(f, NotGrouped | PrometheusQueryError) for f in failures):
        # A query the group shares is at fault, or the rewrite did not hold: the first SLO alone tells which.
        probe = await _evaluate_one(first, client, at, history_points, breaker)
        if (probe.error or "").startswith("bad query"):
            rest = [SLOStatus(s, at, error=probe.error.replace(first.id, s.id, 1)) for s in group.slos[1:]]
            return [probe, *rest]
        log.info("asking %d SLOs one by one: %s", len(group.slos), next(iter(failures)))
        rest = await asyncio.gather(
            *(_evaluate_one(s, client, at, history_points, breaker) for s in group.slos[1:])
        )
        return [probe, *rest]
    if failures:
        worst = next((f for f in failures if isinstance(f, PrometheusUnreachable)), failures[0])
        return [_failure_status(slo, at, worst) for slo in group.slos]
    results = dict(zip(jobs, outcomes, strict=True))
    history = results.get("history", {})
    return [
        _status(
            slo,
            at,
            {name: by_value.get(value) for name, by_value in results["figures"].items()},
            instants,
            history.get(value, []),
        )
        for slo, value in zip(group.slos, group.values, strict=True)
    ]


async def evaluate(
    slos: list[SLO],
    client: PrometheusClient,
    at: datetime | None = None,
    history_points: int = 24,
    deadline: float | None = None,
    grouped: bool = True,
) -> list[SLOStatus]:
    """Statuses for `slos` in order, all evaluated at the same instant `at` (default: now).

    SLOs that share a query shape are asked together (`batching`); errors are per SLO and never raised:
    "Prometheus unreachable (…)" when it cannot be asked, "Prometheus slow (…)" when it did not answer in
    time, "bad query in SLO <id>: …" on the SLO whose query Prometheus rejected, and a note on every SLO
    not done when the overall `deadline` (seconds) ran out. `grouped=False` asks every SLO on its own
    (for comparisons: the figures are the same).
    """
    moment = to_utc(at or datetime.now(UTC))
    # Whole milliseconds: Prometheus works in ms, and range-query points are matched back by timestamp.
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    statuses: dict[int, SLOStatus] = {}
    figures_of: dict[int, dict[str, str]] = {}
    for slo in slos:
        try:
            figures_of[id(slo)] = figure_queries(slo)
        except Exception as exc:  # a malformed SLO must not take the others down
            log.exception("SLO %s could not be evaluated", slo.id)
            statuses[id(slo)] = _failure_status(slo, moment, exc)
    todo = [s for s in slos if id(s) not in statuses]
    groups = (
        group_slos(todo, figures_of) if grouped else [Group([s], None, [], figures_of[id(s)]) for s in todo]
    )
    breaker = _Breaker()
    tasks = [
        asyncio.ensure_future(_evaluate_group(group, client, moment, history_points, breaker))
        for group in groups
    ]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    for group, task in zip(groups, tasks, strict=True):
        if task.cancelled() or not task.done():
            late = f"not evaluated: the overall deadline of {deadline:g} s ran out before Prometheus answered"
            statuses.update({id(slo): SLOStatus(slo, moment, error=late) for slo in group.slos})
        else:
            statuses.update({id(status.slo): status for status in task.result()})
    return [statuses[id(slo)] for slo in slos]


SEVERITY_ORDER = {"page": 0, "ticket": 1}


def worst_first(statuses: list[SLOStatus]) -> list[SLOStatus]:
    """Paging, then ticket, then the lowest budget left; SLOs without figures last, in their order."""

    def rank(status: SLOStatus) -> tuple[int, float]:
        if not status.has_data:
            return (3, 0.0)
        budget = status.budget_remaining if status.budget_remaining is not None else math.inf
        return (SEVERITY_ORDER.get(status.alert, 2), budget)

    return sorted(statuses, key=rank)


def counts(statuses: list[SLOStatus]) -> dict[str, int]:
    """The line a person reads first: paging, ticket, budget spent, healthy, no data."""
    out = {"paging": 0, "ticket": 0, "budget exhausted": 0, "healthy": 0, "no data": 0}
    for status in statuses:
        if not status.has_data:
            out["no data"] += 1
            continue
        if status.alert == "page":
            out["paging"] += 1
        elif status.alert == "ticket":
            out["ticket"] += 1
        if (status.budget_remaining or 0) <= 0:
            out["budget exhausted"] += 1
        elif status.alert not in SEVERITY_ORDER:
            out["healthy"] += 1
    return out


def sparkline(values: list[float | None], lo: float | None = 0.0, hi: float | None = 1.0) -> str:
    """One block character per value; a space where there is no data, so gaps are visible, not flattened.

    The default 0..1 scale suits budget fractions: a full block means the budget is intact, the lowest one
    that it is spent (overspent values clamp there). Pass `lo=None, hi=None` to scale to the data instead.
    """
    known = [v for v in values if v is not None and math.isfinite(v)]
    if lo is None:
        lo = min(known, default=0.0)
    if hi is None:
        hi = max(known, default=1.0)
    span = hi - lo
    out = []
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(" ")
            continue
        level = 0.5 if span <= 0 else (min(max(value, lo), hi) - lo) / span
        out.append(SPARK_BLOCKS[round(level * (len(SPARK_BLOCKS) - 1))])
    return "".join(out)


def budget_bar(fraction: float | None, width: int = 10) -> str:
    """A fixed-width bar of the budget left; "no data" rather than an empty (spent) or full bar."""
    if fraction is None or not math.isfinite(fraction):
        return "no data"
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "█" * filled + "░" * (width - filled)
