"""SLO figures against a real Prometheus 2.42 serving known data, compared with Prometheus's own arithmetic.

Expected values come from `tests.slo_data`, which re-implements `extrapolatedRate` over the very samples that
were backfilled, so agreement to 1e-9 shows the bot asks the right questions and reads the answers right.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.slo.engine import alert_state, budget_bar, burn_factors, evaluate, sparkline
from bot.slo.model import BURN_WINDOWS, SLO, SLOStatus
from bot.slo.prometheus import PrometheusClient, PrometheusQueryError, PrometheusUnreachable
from bot.slo.specs import load_slos
from tests.fixtures_prometheus import RunningPrometheus
from tests.processes import hanging_port
from tests.slo_data import (
    CHECKOUT_ERR_RESET,
    CHECKOUT_OK_RESET,
    END,
    MINUTES,
    availability_slo,
    latency_slo,
    ratio,
)
from tests.test_slo_specs import OPENSLO_ORCHESTRATOR, SLOTH_ORCHESTRATOR

REL = 1e-9
DAY = timedelta(days=1)
MONTH = timedelta(days=30)


def close(actual: float | None, expected: float | None) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return actual == pytest.approx(expected, rel=REL, abs=1e-12)


def window(text: str) -> timedelta:
    return timedelta(seconds=int(text[:-1]) * {"m": 60, "h": 3600, "d": 86400}[text[-1]])


@pytest.fixture
async def client(prometheus: RunningPrometheus) -> AsyncIterator[PrometheusClient]:
    prom = PrometheusClient(prometheus.url)
    yield prom
    prom.close()


# --- pure functions --------------------------------------------------------------------------------------


def test_burn_factors_for_30_days_are_the_workbook_numbers() -> None:
    assert burn_factors(MONTH) == {"1h": 14.4, "6h": 6.0, "1d": 3.0, "3d": 1.0}


def test_burn_factors_rescale_with_the_period() -> None:
    assert burn_factors(timedelta(days=28)) == pytest.approx(
        {"1h": 13.44, "6h": 5.6, "1d": 2.8, "3d": 28 / 30}
    )
    assert burn_factors(DAY) == pytest.approx({"1h": 0.48, "6h": 0.2, "1d": 0.1, "3d": 0.1 / 3})
    # Same budget share consumed in the long window, whatever the period.
    for period in (DAY, timedelta(days=7), timedelta(days=28), timedelta(days=90)):
        factors = burn_factors(period)
        assert factors["1h"] * 3600 / period.total_seconds() == pytest.approx(0.02)
        assert factors["6h"] * 6 * 3600 / period.total_seconds() == pytest.approx(0.05)


def burns(**values: float | None) -> dict[str, float | None]:
    return {w: values.get(f"w{w}", 0.1) for w in BURN_WINDOWS}


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        (burns(), "ok"),
        (burns(w1h=15, w5m=15), "page"),
        (burns(w1h=15, w5m=14), "ok"),  # the short window says the burn already stopped
        (burns(w6h=7, w30m=7), "page"),
        (burns(w1d=3.5, w2h=3.5), "ticket"),
        (burns(w3d=1.5, w6h=1.5), "ticket"),
        (burns(w3d=1.5, w6h=20, w30m=20), "page"),
        (burns(w5m=None), "no data"),
        (burns(w5m=None, w1d=4, w2h=4), "ticket"),
        ({w: None for w in BURN_WINDOWS}, "no data"),
    ],
)
def test_alert_state_multiwindow_multi_burn_rate(rates: dict[str, float | None], expected: str) -> None:
    slo = SLO("api", "availability", objective=0.999, period=MONTH, ratio_query="x")
    ratios = {window: None if burn is None else burn * 0.001 for window, burn in rates.items()}
    assert alert_state(ratios, slo) == expected


def test_alert_state_compares_like_the_generated_rule_just_above_the_threshold() -> None:
    """`ratio > (14.4 * 0.001)` as Prometheus evaluates it; dividing by the budget first rounds otherwise."""
    slo = SLO("api", "availability", objective=0.999, period=MONTH, ratio_query="x")
    threshold = 14.4 * 0.001  # the product Prometheus computes for the rule's `(14.4 * 0.001)`
    above = [threshold]
    while len(above) < 8:
        above.append(math.nextafter(above[-1], math.inf))
    calm = {w: 0.0 for w in BURN_WINDOWS}
    for value in above[1:]:  # the seven values just above the threshold: the rule fires, and so does the bot
        assert alert_state({**calm, "1h": value, "5m": value}, slo) == "page", value
    assert alert_state({**calm, "1h": threshold, "5m": threshold}, slo) == "ok"  # `>` is strict in PromQL
    # The old comparison (burn = ratio / budget > 14.4) disagreed with the rule for some of these values.
    assert any(not (value / slo.budget > 14.4) for value in above[1:])


def test_sparkline_and_budget_bar_rendering() -> None:
    assert sparkline([0.0, 1 / 7, 2 / 7, 3 / 7, 4 / 7, 5 / 7, 6 / 7, 1.0]) == "▁▂▃▄▅▆▇█"
    assert sparkline([1.0, None, -0.4, 2.0]) == "█ ▁█"  # gaps stay visible; overspend clamps
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""
    assert sparkline([5.0, 10.0], lo=None, hi=None) == "▁█"
    assert sparkline([3.0, 3.0], lo=None, hi=None) == "▅▅"
    assert budget_bar(1.0) == "██████████"
    assert budget_bar(0.55) == "██████░░░░"
    assert budget_bar(0.0) == "░░░░░░░░░░"
    assert budget_bar(-0.5) == "░░░░░░░░░░"
    assert budget_bar(1.7, width=4) == "████"
    assert budget_bar(None) == "no data"
    assert budget_bar(float("nan")) == "no data"


# --- figures from the real Prometheus ---------------------------------------------------------------------


async def test_increase_across_counter_resets_matches_prometheus(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    data, at = prometheus.data, prometheus.at
    # Both resets fall inside these windows; a naive last-minus-first would be far off (even negative).
    assert MINUTES - CHECKOUT_OK_RESET < 24 * 60 and MINUTES - CHECKOUT_ERR_RESET < 6 * 60
    for code, span in (("200", "1d"), ("500", "6h")):
        expected = data.increase("http_requests_total", window(span), service="checkout", code=code)
        samples = data.select("http_requests_total", service="checkout", code=code)[0].samples
        naive = samples[-1][1] - samples[-1 - int(window(span).total_seconds() // 60)][1]
        assert expected is not None and abs(expected - naive) > 1000
        got = await client.query(
            f'sum(increase(http_requests_total{{service="checkout",code="{code}"}}[{span}]))', at
        )
        assert close(got, expected), (code, got, expected)


async def test_availability_slo_figures_equal_the_generated_data(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    data, at = prometheus.data, prometheus.at
    slo = availability_slo("checkout", objective=0.99, period=DAY)
    [status] = await evaluate([slo], client, at)
    assert status.error is None and status.at == at

    e_period = data.availability_ratio("checkout", DAY)
    assert e_period is not None
    assert close(status.error_ratio, e_period)
    assert close(status.sli, 1 - e_period)
    assert close(status.budget_remaining, 1 - e_period / 0.01)
    expected_burns = {w: data.availability_ratio("checkout", window(w)) / 0.01 for w in BURN_WINDOWS}
    for w in BURN_WINDOWS:
        assert close(status.burn_rates[w], expected_burns[w]), w
    # The last-hour burst makes the windows tell different stories.
    assert expected_burns["5m"] > expected_burns["6h"] > expected_burns["1d"]

    bad = data.increase("http_requests_total", DAY, service="checkout", code="500")
    total = data.increase("http_requests_total", DAY, service="checkout")
    assert close(status.bad_events, bad)
    assert close(status.total_events, total)
    assert close(status.budget_events_remaining, total * 0.01 - bad)

    remaining, burn_1h = 1 - e_period / 0.01, expected_burns["1h"]
    assert status.time_to_exhaustion is not None
    assert close(status.time_to_exhaustion.total_seconds(), remaining * 86400 / burn_1h)
    assert status.alert == alert_state({w: b * 0.01 for w, b in expected_burns.items()}, slo)


async def test_budget_history_is_the_period_ratio_at_evenly_spaced_instants(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    data, at = prometheus.data, prometheus.at
    slo = availability_slo("checkout", objective=0.99, period=DAY)
    [status] = await evaluate([slo], client, at, history_points=24)
    assert len(status.budget_history) == 24
    for k, value in enumerate(status.budget_history):
        moment = at - timedelta(hours=23 - k)
        expected = data.availability_ratio("checkout", DAY, moment)
        assert expected is not None
        assert close(value, 1 - expected / 0.01), moment
    assert close(status.budget_history[-1], status.budget_remaining)


async def test_budget_history_points_before_the_data_are_no_data(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    [status] = await evaluate([availability_slo("search", period=MONTH)], client, prometheus.at, 30)
    # 30 d in steps of 1 d over 2 d of data: at −2 d the window holds a single sample (no rate), so only the
    # last two instants (−1 d, now) have figures.
    assert status.budget_history[:28] == [None] * 28
    assert all(v is not None for v in status.budget_history[28:])
    assert sparkline(status.budget_history).startswith(" " * 28)


async def test_latency_slo_over_histogram_buckets(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    data, at = prometheus.data, prometheus.at
    slo = latency_slo("checkout", objective=0.9, period=DAY)
    [status] = await evaluate([slo], client, at)
    assert status.error is None
    assert close(status.error_ratio, data.latency_ratio("checkout", DAY))
    for w in BURN_WINDOWS:
        assert close(status.burn_rates[w], data.latency_ratio("checkout", window(w)) / 0.1), w
    # 15 % slow in the last 2 h against a 10 % budget, 5 % before.
    assert status.burn_rates["1h"] == pytest.approx(1.5, rel=0.01)
    assert status.burn_rates["3d"] < 0.6
    count = data.increase("http_request_duration_seconds_count", DAY, service="checkout")
    fast = data.increase("http_request_duration_seconds_bucket", DAY, service="checkout", le="0.5")
    assert close(status.total_events, count)
    assert status.bad_events == pytest.approx(count - fast, rel=1e-9)


async def test_stale_series_are_no_data_never_zero_or_full(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    data, at = prometheus.data, prometheus.at
    [status] = await evaluate([availability_slo("legacy", period=MONTH)], client, at)
    assert status.error is None
    # Samples stopped 3 h ago: no sample at all in the short windows.
    for w in ("5m", "30m", "1h", "2h"):
        assert status.burn_rates[w] is None, w
    for w in ("6h", "1d", "3d"):
        assert close(status.burn_rates[w], data.availability_ratio("legacy", window(w)) / 0.001), w
    assert status.alert == "no data"  # cannot prove calm without the page windows
    assert status.time_to_exhaustion is None


async def test_zero_traffic_is_no_data_not_zero_errors(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    [status] = await evaluate([availability_slo("batch", period=MONTH)], client, prometheus.at)
    # Flat counters for the last 90 min: 0/0 is NaN in Prometheus, which must not read as a 100 % SLI.
    assert ratio(0.0, 0.0) is None
    for w in ("5m", "30m", "1h"):
        assert status.burn_rates[w] is None, w
    assert status.burn_rates["2h"] is not None
    assert status.alert == "no data"


async def test_missing_series_give_no_data_everywhere(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    [status] = await evaluate([availability_slo("ghost")], client, prometheus.at)
    assert status.error is None
    assert not status.has_data
    assert status.error_ratio is None and status.sli is None and status.budget_remaining is None
    assert (
        status.total_events is None and status.bad_events is None and status.budget_events_remaining is None
    )
    assert all(v is None for v in status.burn_rates.values())
    assert status.budget_history == [None] * 24
    assert status.alert == "no data"
    assert status.time_to_exhaustion is None
    assert budget_bar(status.budget_remaining) == "no data"


async def test_page_for_a_fast_burn_ok_for_a_slow_one(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    fast, slow = await evaluate(
        [availability_slo("checkout", period=MONTH), availability_slo("search", period=MONTH)],
        client,
        prometheus.at,
    )
    assert fast.burn_rates["1h"] > 14.4 and fast.burn_rates["5m"] > 14.4
    assert fast.alert == "page"
    assert all(0 < b < 1 for b in slow.burn_rates.values() if b is not None)
    assert slow.alert == "ok"
    assert slow.time_to_exhaustion is not None and slow.time_to_exhaustion > MONTH


async def test_bad_query_names_the_slo_and_spares_the_others(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    good = availability_slo("checkout", period=DAY)
    broken = replace(availability_slo("search", name="broken"), error_query="sum(rate(oops[{{.window}}])")
    many = replace(
        availability_slo("search", name="unaggregated"), error_query="rate(http_requests_total[{{.window}}])"
    )
    ok, bad, multi = await evaluate([good, broken, many], client, prometheus.at)
    assert ok.error is None and ok.has_data
    assert bad.error is not None and bad.error.startswith("bad query in SLO search/broken: ")
    assert "parse error" in bad.error
    assert multi.error is not None and multi.error.startswith("bad query in SLO search/unaggregated: ")
    assert "series" in multi.error and "sum(" in multi.error


async def test_client_reads_scalars_nan_and_ranges(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    at = prometheus.at
    assert await client.query("42", at) == 42.0
    assert await client.query("vector(0.25)", at) == 0.25
    assert await client.query("vector(0) / vector(0)", at) is None
    assert await client.query("vector(1) / vector(0)", at) is None
    assert await client.query('sum(rate(http_requests_total{service="ghost"}[5m]))', at) is None
    with pytest.raises(PrometheusQueryError, match="range vector"):
        await client.query("http_requests_total[5m]", at)
    with pytest.raises(PrometheusQueryError, match="parse error"):
        await client.query("sum(", at)
    points = await client.query_range("vector(1)", at - timedelta(hours=2), at, timedelta(hours=1))
    assert [t for t, _ in points] == [at - timedelta(hours=2), at - timedelta(hours=1), at]
    assert [v for _, v in points] == [1.0, 1.0, 1.0]
    assert await client.ping() is None


# --- Prometheus down, hanging or failing -------------------------------------------------------------------


async def test_unreachable_prometheus_reports_on_every_slo_fast(unreachable_prometheus_url: str) -> None:
    client = PrometheusClient(unreachable_prometheus_url)
    slos = [availability_slo(f"svc-{n:02d}") for n in range(50)]
    started = time.monotonic()
    statuses = await evaluate(slos, client)
    elapsed = time.monotonic() - started
    client.close()
    assert elapsed < 5
    assert len(statuses) == 50
    for status in statuses:
        assert status.error is not None
        assert status.error.startswith("Prometheus unreachable (ConnectionRefusedError"), status.error
        assert not status.has_data and status.alert == "no data"
    assert (await PrometheusClient(unreachable_prometheus_url).ping() or "").startswith(
        "Prometheus unreachable"
    )


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A wedged Prometheus."""
    with hanging_port() as port:
        yield f"http://127.0.0.1:{port}"


async def test_unresponsive_prometheus_is_reported_within_five_seconds(hanging_url: str) -> None:
    client = PrometheusClient(hanging_url)  # default 3.5 s timeout, as the bot runs it
    slos = [availability_slo(f"svc-{n:02d}") for n in range(50)]
    started = time.monotonic()
    statuses = await evaluate(slos, client)
    elapsed = time.monotonic() - started
    client.close()
    assert elapsed < 5, elapsed
    assert {s.error for s in statuses} == {"Prometheus slow (no answer within 3.5 s of asking)"}


async def test_server_errors_are_not_retried_with_backoff() -> None:
    hits: list[str] = []

    async def unavailable(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=503, text="overloaded")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unavailable)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = PrometheusClient(f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        started = time.monotonic()
        with pytest.raises(PrometheusUnreachable, match="HTTP 503"):
            await client.query("vector(1)", END)
        assert time.monotonic() - started < 1
        assert hits == ["/api/v1/query"]  # one request: the library's 3 retries with backoff are off
        assert (await client.ping() or "").startswith("Prometheus not ready (HTTP 503")
    finally:
        client.close()
        await runner.cleanup()


async def test_statuses_keep_the_order_of_the_slos(
    prometheus: RunningPrometheus, client: PrometheusClient
) -> None:
    slos = [availability_slo(s, period=DAY) for s in ("search", "ghost", "checkout", "legacy")]
    statuses = await evaluate(slos, client, prometheus.at, history_points=0)
    assert [s.slo.id for s in statuses] == [s.id for s in slos]
    assert all(isinstance(s, SLOStatus) and s.budget_history == [] for s in statuses)
    assert await asyncio.wait_for(client.ping(), 5) is None


async def test_sloth_and_openslo_specs_of_one_slo_give_identical_figures(
    prometheus: RunningPrometheus, client: PrometheusClient, tmp_path: Path
) -> None:
    """Sloth writes rates, OpenSLO counters become increases: the window cancels, the figures stay."""
    files = []
    for name, text in (("sloth.yml", SLOTH_ORCHESTRATOR), ("openslo.yml", OPENSLO_ORCHESTRATOR)):
        files.append(tmp_path / name)
        files[-1].write_text(text.replace("orchestrator", "checkout"), encoding="utf-8")
    (sloth,) = load_slos(files[:1])
    (openslo,) = load_slos(files[1:])
    a, b = await evaluate([sloth, openslo], client, prometheus.at)
    assert a.has_data and b.has_data
    expected = prometheus.data.availability_ratio("checkout", MONTH)
    assert close(a.error_ratio, expected) and close(b.error_ratio, expected)
    for window in BURN_WINDOWS:
        assert close(a.burn_rates[window], b.burn_rates[window]), window
    assert close(a.bad_events, b.bad_events) and close(a.total_events, b.total_events)
    assert (a.alert, a.time_to_exhaustion is None) == (b.alert, b.time_to_exhaustion is None)
