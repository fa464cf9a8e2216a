"""The threshold of issue 19's automatic rollback: held for its duration it breaches once, a shorter
excursion does nothing, and it clears only after the value has been back for as long — by hand, then on
a real Prometheus with the synthetic checkout series (tests/slo_data.py): about 4 % errors in the last
hour, a burst of about 0.5–1 % from 6 h to 5 h before the end, well under 0.1 % otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.slo.prometheus import PrometheusClient
from bot.slo.threshold import BREACHED, CLEARED, Threshold, ThresholdState, observe
from tests.fixtures_prometheus import RunningPrometheus

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
RATIO = (
    'sum(rate(http_requests_total{service="checkout",code="500"}[5m]))'
    ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
)


def run(threshold: Threshold, values: list[float | None], step: timedelta) -> list[tuple[int, str]]:
    """(index of the evaluation, change) for each change."""
    state, changes = ThresholdState(), []
    for n, value in enumerate(values):
        state, change = observe(threshold, state, value, T0 + n * step)
        if change:
            changes.append((n, change))
    return changes


def test_held_breaches_once_a_spike_does_not_and_clearing_needs_as_long() -> None:
    five = Threshold.model_validate({"expr": "x", "above": 0.02, "for": "5m", "every": "1m"})
    minute = timedelta(minutes=1)
    spike = [0.01, 0.05, 0.05, 0.05, 0.01, 0.01]  # 3 minutes above: nothing
    assert run(five, spike, minute) == []
    held = [0.01] + [0.05] * 8 + [0.01, 0.05] + [0.01] * 6
    # above from minute 1: breached at minute 6 (5 min held), once; a dip at 9 and back at 10 does not
    # clear it; from 11 it stays under: cleared at 16 — 5 minutes after it went back for good.
    assert run(five, held, minute) == [(6, BREACHED), (16, CLEARED)]
    gaps = [0.05, None, None, 0.05, 0.05, 0.05, 0.05, None]  # no data is not a recovery
    assert run(five, gaps, minute) == [(5, BREACHED)]


def test_below_thresholds_and_bad_definitions() -> None:
    low = Threshold.model_validate({"expr": "x", "below": 0.99, "for": "2m", "every": "1m"})
    assert run(low, [1.0, 0.9, 0.9, 0.9], timedelta(minutes=1)) == [(3, BREACHED)]
    for wrong in ({"expr": "x", "for": "5m"}, {"expr": "x", "above": 1, "below": 0, "for": "5m"}):
        with pytest.raises(ValidationError, match="exactly one of above: or below:"):
            Threshold.model_validate(wrong)


async def _evaluate(
    prometheus: RunningPrometheus, threshold: Threshold, start: datetime, end: datetime
) -> list[tuple[datetime, str, float | None]]:
    client = PrometheusClient(prometheus.url, timeout=10)
    state, changes, at = ThresholdState(), [], start
    while at <= end:
        value = await client.query(threshold.expr, at)
        state, change = observe(threshold, state, value, at)
        if change:
            changes.append((at, change, value))
        at += threshold.every
    return changes


async def test_on_prometheus_the_last_hours_error_rate_breaches_once(prometheus: RunningPrometheus) -> None:
    threshold = Threshold.model_validate({"expr": RATIO, "above": 0.02, "for": "5m"})
    end = prometheus.at
    changes = await _evaluate(prometheus, threshold, end - timedelta(minutes=80), end - timedelta(minutes=30))
    [(at, change, value)] = changes
    assert change == BREACHED and value is not None and value > 0.02
    # The errors start 60 min before the end; the 5 min rate needs a minute or two to cross, then 5 min held.
    assert end - timedelta(minutes=55) <= at <= end - timedelta(minutes=50)


async def test_on_prometheus_the_hour_long_burst_breaches_a_30_minute_hold_but_not_a_90_minute_one(
    prometheus: RunningPrometheus,
) -> None:
    end = prometheus.at
    start, stop = end - timedelta(hours=6, minutes=15), end - timedelta(hours=4)
    short = Threshold.model_validate({"expr": RATIO, "above": 0.003, "for": "30m", "every": "1m"})
    changes = await _evaluate(prometheus, short, start, stop)
    assert [c for _, c, _ in changes] == [BREACHED, CLEARED]
    breached, cleared = changes[0][0], changes[1][0]
    # the burst is 6 h–5 h before the end: held 30 min → about 5 h 30 min; clear 30 min after it ends
    assert end - timedelta(hours=5, minutes=35) <= breached <= end - timedelta(hours=5, minutes=25)
    assert end - timedelta(hours=4, minutes=35) <= cleared <= end - timedelta(hours=4, minutes=25)

    long = Threshold.model_validate({"expr": RATIO, "above": 0.003, "for": "90m", "every": "1m"})
    assert await _evaluate(prometheus, long, start, stop) == []
