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

from bot.slo.model import BURN_WINDOWS, SLO, AlertState, SLOStatus, prom_duration
from bot.slo.prometheus import PrometheusClient, PrometheusQueryError, PrometheusUnreachable, to_utc

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


async def _evaluate_one(
    slo: SLO, client: PrometheusClient, at: datetime, history_points: int, breaker: _Breaker
) -> SLOStatus:
    try:
        period = prom_duration(slo.period)
        ratio_period = slo.error_ratio_query(period)

        figures = {"period": ratio_period}
        figures.update({window: slo.error_ratio_query(window) for window in BURN_WINDOWS})
        if slo.error_query and slo.total_query:
            figures["bad"] = slo.bad_query(period)
            figures["total"] = slo.query(slo.total_query, period)
        jobs: dict[str, Callable[[], Awaitable[Any]]] = {"figures": lambda: client.query_figures(figures, at)}
        instants: list[datetime] = []
        if history_points > 0:
            instants, step = _history_instants(at, slo.period, history_points)
            jobs["history"] = lambda: client.query_range(ratio_period, instants[0], at, step)
        outcomes = await asyncio.gather(*(breaker.run(job) for job in jobs.values()), return_exceptions=True)
    except Exception as exc:  # a malformed SLO must not take the others down
        log.exception("SLO %s could not be evaluated", slo.id)
        return SLOStatus(slo, at, error=f"could not evaluate SLO {slo.id}: {type(exc).__name__}: {exc}")

    results = dict(zip(jobs, outcomes, strict=True))
    if isinstance(results["figures"], dict):
        results.update(results.pop("figures"))
    failures = [r for r in outcomes if isinstance(r, BaseException)]
    if failures:
        unreachable = next((f for f in failures if isinstance(f, PrometheusUnreachable)), None)
        if unreachable is not None:
            return SLOStatus(slo, at, error=str(unreachable))
        bad_query = next((f for f in failures if isinstance(f, PrometheusQueryError)), None)
        if bad_query is not None:
            return SLOStatus(slo, at, error=f"bad query in SLO {slo.id}: {bad_query}")
        first = failures[0]
        if not isinstance(first, Exception):
            raise first  # cancellation of evaluate itself, KeyboardInterrupt, …
        log.error("SLO %s could not be evaluated", slo.id, exc_info=first)
        return SLOStatus(slo, at, error=f"could not evaluate SLO {slo.id}: {type(first).__name__}: {first}")

    seconds = slo.period.total_seconds()

    def events(value: float | None) -> float | None:
        if value is None:
            return None
        return value * seconds if slo.counts_are_rates else value

    error_ratios = {window: results[window] for window in BURN_WINDOWS}
    burn_rates = {
        window: None if ratio is None else ratio / slo.budget for window, ratio in error_ratios.items()
    }
    history: list[float | None] = []
    if instants:
        by_time = {_ms(moment): value for moment, value in results["history"]}
        for moment in instants:
            ratio = by_time.get(_ms(moment))
            history.append(None if ratio is None else 1.0 - ratio / slo.budget)
    return SLOStatus(
        slo=slo,
        at=at,
        error_ratio=results["period"],
        burn_rates=burn_rates,
        error_ratios=error_ratios,
        total_events=events(results.get("total")),
        bad_events=events(results.get("bad")),
        alert=alert_state(error_ratios, slo),
        budget_history=history,
    )


async def evaluate(
    slos: list[SLO], client: PrometheusClient, at: datetime | None = None, history_points: int = 24
) -> list[SLOStatus]:
    """Statuses for `slos` in order, all evaluated at the same instant `at` (default: now).

    Errors are per SLO and never raised: "Prometheus unreachable (…)" on every status when it cannot be
    reached, "bad query in SLO <id>: …" on the SLO whose query Prometheus rejected.
    """
    moment = to_utc(at or datetime.now(UTC))
    # Whole milliseconds: Prometheus works in ms, and range-query points are matched back by timestamp.
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    breaker = _Breaker()
    return list(
        await asyncio.gather(*(_evaluate_one(slo, client, moment, history_points, breaker) for slo in slos))
    )


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
