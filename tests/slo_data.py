"""Synthetic request counters with known error ratios, and Prometheus's own arithmetic to predict its answers.

The same samples are written as OpenMetrics (for `promtool tsdb create-blocks-from openmetrics`) and kept in
memory, so a test can compute what `rate()`/`increase()` must return at a pinned time and compare to 1e-9.
The data is deterministic: two days of 1-minute samples ending at `END`, with

- `checkout`: varying traffic, a small error burst 6 h–5 h before the end and a large one in the last hour,
  a counter reset of the `code="200"` series (~19 h before the end) and of `code="500"` (~4.7 h before),
  plus a latency histogram whose slow share rises in the last 2 h;
- `search`: a steady, slow burn (~0.02 % errors) from counters that start at zero;
- `legacy`: series that stop 3 h before the end (stale: short windows have no samples at all);
- `batch`: counters that stay flat for the last 90 min (0/0 → NaN in short windows);
- optionally `svc-NN` services for the bench.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.slo.model import SLO

END = datetime(2026, 11, 1, tzinfo=UTC)
"""Timestamp of the last sample; tests pin `time=` here."""
STEP_SECONDS = 60
MINUTES = 2 * 24 * 60
"""Intervals in the data: samples are at END - MINUTES·1m … END (MINUTES + 1 of them)."""
START = END - timedelta(minutes=MINUTES)

CHECKOUT_OK_RESET = 1700
CHECKOUT_ERR_RESET = 2600
STALE_AFTER = MINUTES - 180
QUIET_AFTER = MINUTES - 90
BUCKETS = ("0.1", "0.25", "0.5", "1", "+Inf")

Increments = Callable[[int], int]


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    samples: list[tuple[int, float]]
    """(timestamp in ms, value), in time order."""
    times: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.times = [t for t, _ in self.samples]

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return self.name == name and all(self.labels.get(k) == v for k, v in labels.items())

    def in_range(self, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """Samples with start <= t <= end: Prometheus 2.x range selectors are closed on both ends."""
        return self.samples[bisect_left(self.times, start_ms) : bisect_right(self.times, end_ms)]


def extrapolated_rate(
    samples: list[tuple[int, float]], range_start_ms: int, range_end_ms: int, is_counter: bool, is_rate: bool
) -> float | None:
    """Prometheus 2.42 `extrapolatedRate` (promql/functions.go) for float samples, step for step.

    Counter resets add the value before the drop; the result is extrapolated to each window boundary when the
    first/last sample is within 1.1 average intervals of it (else by half an interval), and, for counters,
    never further back than the point where the counter would have been zero.
    """
    if len(samples) < 2:
        return None
    result = samples[-1][1] - samples[0][1]
    if is_counter:
        previous = samples[0][1]
        for _, value in samples[1:]:
            if value < previous:
                result += previous
            previous = value
    first_t, first_v = samples[0]
    last_t = samples[-1][0]
    duration_to_start = (first_t - range_start_ms) / 1000
    duration_to_end = (range_end_ms - last_t) / 1000
    sampled_interval = (last_t - first_t) / 1000
    average_interval = sampled_interval / (len(samples) - 1)
    if is_counter and result > 0 and first_v >= 0:
        duration_to_zero = sampled_interval * (first_v / result)
        if duration_to_zero < duration_to_start:
            duration_to_start = duration_to_zero
    threshold = average_interval * 1.1
    extrapolate_to = sampled_interval
    extrapolate_to += duration_to_start if duration_to_start < threshold else average_interval / 2
    extrapolate_to += duration_to_end if duration_to_end < threshold else average_interval / 2
    factor = extrapolate_to / sampled_interval
    if is_rate:
        factor /= (range_end_ms - range_start_ms) / 1000
    return result * factor


def ratio(bad: float | None, total: float | None) -> float | None:
    """PromQL division as the bot reads it: a missing side or a non-finite quotient (0/0, x/0) is no data."""
    if bad is None or total is None:
        return None
    quotient = bad / total if total != 0 else (math.nan if bad == 0 else math.copysign(math.inf, bad))
    return quotient if math.isfinite(quotient) else None


@dataclass
class SyntheticData:
    end: datetime
    series: list[Series]

    def select(self, name: str, **labels: str) -> list[Series]:
        return [s for s in self.series if s.matches(name, labels)]

    def _sum(
        self, name: str, window: timedelta, at: datetime | None, is_rate: bool, labels: dict[str, str]
    ) -> float | None:
        """`sum(rate|increase(name{labels}[window]))` at `at`; None when no series has 2 samples in range."""
        end_ms = int((at or self.end).timestamp() * 1000)
        start_ms = end_ms - int(window.total_seconds() * 1000)
        per_series = (
            extrapolated_rate(s.in_range(start_ms, end_ms), start_ms, end_ms, True, is_rate)
            for s in self.select(name, **labels)
        )
        values = [v for v in per_series if v is not None]
        if not values:
            return None
        total = values[0]
        for v in values[1:]:
            total += v
        return total

    def rate(self, name: str, window: timedelta, at: datetime | None = None, **labels: str) -> float | None:
        return self._sum(name, window, at, True, labels)

    def increase(
        self, name: str, window: timedelta, at: datetime | None = None, **labels: str
    ) -> float | None:
        return self._sum(name, window, at, False, labels)

    def availability_ratio(self, service: str, window: timedelta, at: datetime | None = None) -> float | None:
        """What `availability_slo(service).error_ratio_query(window)` must return."""
        bad = self.rate("http_requests_total", window, at, service=service, code="500")
        total = self.rate("http_requests_total", window, at, service=service)
        return ratio(bad, total)

    def latency_ratio(self, service: str, window: timedelta, at: datetime | None = None) -> float | None:
        """What `latency_slo(service).error_ratio_query(window)` must return (share slower than 0.5 s)."""
        total = self.rate("http_request_duration_seconds_count", window, at, service=service)
        fast = self.rate("http_request_duration_seconds_bucket", window, at, service=service, le="0.5")
        bad = None if total is None or fast is None else total - fast
        return ratio(bad, total)

    def openmetrics(self) -> str:
        """The data as OpenMetrics with timestamps, each family contiguous, ending in `# EOF`."""
        families: dict[str, tuple[str, list[Series]]] = {}
        for s in self.series:
            if s.name.startswith("http_request_duration_seconds"):
                family, kind = "http_request_duration_seconds", "histogram"
            else:
                family, kind = s.name.removesuffix("_total"), "counter"
            families.setdefault(family, (kind, []))[1].append(s)
        lines: list[str] = []
        for family, (kind, members) in families.items():
            lines.append(f"# TYPE {family} {kind}")
            for s in members:
                labels = ",".join(f'{k}="{v}"' for k, v in s.labels.items())
                head = f"{s.name}{{{labels}}}"
                lines.extend(f"{head} {_fmt(value)} {t // 1000}" for t, value in s.samples)
        lines.append("# EOF")
        return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _timestamps() -> list[int]:
    start_ms = int(START.timestamp() * 1000)
    return [start_ms + i * STEP_SECONDS * 1000 for i in range(MINUTES + 1)]


def _counter(start: int, increments: Increments, reset_at: int | None = None) -> list[float]:
    """Cumulative values; at `reset_at` the process restarted, so the counter begins again from zero."""
    values = [float(start)]
    for i in range(1, MINUTES + 1):
        values.append(float(increments(i)) if i == reset_at else values[-1] + increments(i))
    return values


def _series(name: str, labels: dict[str, str], values: list[float]) -> Series:
    return Series(name, labels, list(zip(_timestamps(), values, strict=False)))


def _requests(
    service: str,
    ok: Increments,
    err: Increments,
    *,
    ok_start: int = 0,
    err_start: int = 0,
    ok_reset: int | None = None,
    err_reset: int | None = None,
) -> list[Series]:
    name = "http_requests_total"
    return [
        _series(name, {"service": service, "code": "200"}, _counter(ok_start, ok, ok_reset)),
        _series(name, {"service": service, "code": "500"}, _counter(err_start, err, err_reset)),
    ]


def _checkout_errors(i: int) -> int:
    if i > MINUTES - 60:
        return 40 + i % 9  # the fast burn: ~4 % errors in the last hour
    if MINUTES - 360 < i <= MINUTES - 300:
        return 8 + i % 3  # a smaller burst 6 h–5 h ago, so the 6 h window differs from the 1 h one
    return (1 if i % 3 == 0 else 0) + (2 if i % 50 == 0 else 0)


def _histogram(service: str) -> list[Series]:
    """A classic histogram where the share of requests slower than 0.5 s rises from 5 % to 15 % (last 2 h)."""
    shares = {"0.1": (50, 100), "0.25": (80, 100), "1": (99, 100), "+Inf": (1, 1)}

    def requests_at(i: int) -> int:
        return 600 + (i * 13) % 211

    def fast_share(i: int) -> tuple[int, int]:
        return (85, 100) if i > MINUTES - 120 else (95, 100)

    def bucket(le: str) -> Increments:
        def count(i: int) -> int:
            num, den = fast_share(i) if le == "0.5" else shares[le]
            return requests_at(i) * num // den

        return count

    base = "http_request_duration_seconds"
    out = [
        _series(f"{base}_bucket", {"service": service, "le": le}, _counter(0, bucket(le))) for le in BUCKETS
    ]
    out.append(_series(f"{base}_count", {"service": service}, _counter(0, requests_at)))
    out.append(_series(f"{base}_sum", {"service": service}, [v * 0.125 for v in _counter(0, requests_at)]))
    return out


def _bench_service(n: int) -> list[Series]:
    """Distinct series per bench SLO, so Prometheus really reads data for each one."""
    return _requests(
        f"svc-{n:02d}",
        lambda i: 200 + (i * (n + 7)) % 113,
        lambda i: 1 if (i + n) % (5 + n % 7) == 0 else 0,
        ok_start=1000 * n,
        ok_reset=600 + 37 * n,
    )


def generate(bench_services: int = 0) -> SyntheticData:
    series: list[Series] = []
    series += _requests(
        "checkout",
        lambda i: 900 + (i * 37) % 401 + 150 * ((i // 60) % 4),
        _checkout_errors,
        ok_start=123456,
        err_start=789,
        ok_reset=CHECKOUT_OK_RESET,
        err_reset=CHECKOUT_ERR_RESET,
    )
    series += _histogram("checkout")
    series += _requests("search", lambda i: 500 + (i * 11) % 97, lambda i: 1 if i % 10 == 0 else 0)
    series += [
        Series(s.name, s.labels, s.samples[: STALE_AFTER + 1])
        for s in _requests("legacy", lambda i: 100, lambda i: 1 if i % 20 == 0 else 0, ok_start=5000)
    ]
    series += _requests(
        "batch",
        lambda i: 0 if i > QUIET_AFTER else 50,
        lambda i: 0 if i > QUIET_AFTER else (1 if i % 25 == 0 else 0),
        ok_start=300,
    )
    for n in range(bench_services):
        series += _bench_service(n)
    return SyntheticData(END, series)


WINDOW = "{{.window}}"


def availability_slo(
    service: str, objective: float = 0.999, period: timedelta = timedelta(days=1), name: str = "availability"
) -> SLO:
    """Errors are `code="500"` requests; queries are per-second rates, as Sloth writes them."""
    return SLO(
        service=service,
        name=name,
        objective=objective,
        period=period,
        error_query=f'sum(rate(http_requests_total{{service="{service}",code="500"}}[{WINDOW}]))',
        total_query=f'sum(rate(http_requests_total{{service="{service}"}}[{WINDOW}]))',
    )


def latency_slo(service: str, objective: float = 0.9, period: timedelta = timedelta(days=1)) -> SLO:
    """Requests slower than 0.5 s are bad: total minus the `le="0.5"` bucket."""
    count = f'sum(rate(http_request_duration_seconds_count{{service="{service}"}}[{WINDOW}]))'
    fast = f'sum(rate(http_request_duration_seconds_bucket{{service="{service}",le="0.5"}}[{WINDOW}]))'
    return SLO(
        service=service,
        name="latency-p95-500ms",
        objective=objective,
        period=period,
        error_query=f"{count} - {fast}",
        total_query=count,
    )


SPEC_OBJECTIVES = ("99", "99.5", "99.9", "99.95", "99.99")


def service_spec(n: int, team: bool = True) -> str:
    """A Sloth spec of five SLOs (one per objective) on bench service `n`'s counters: one query shape
    shared by every service, as a platform team writes them. Every tenth service belongs to payments."""
    service = f"svc-{n:02d}"
    slos = "".join(
        f"""
  - name: availability-{objective.replace(".", "-")}
    objective: {objective}
    sli:
      events:
        error_query: sum(rate(http_requests_total{{service="{service}",code="500"}}[{{{{.window}}}}]))
        total_query: sum(rate(http_requests_total{{service="{service}"}}[{{{{.window}}}}]))"""
        for objective in SPEC_OBJECTIVES
    )
    labels = f"labels: {{team: {'payments' if n % 10 == 0 else 'platform'}}}\n" if team else ""
    return f'version: "prometheus/v1"\nservice: {service}\n{labels}slos:{slos}\n'
