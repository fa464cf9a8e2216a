"""Async access to Prometheus through prometheus-api-client, which is synchronous.

Every request runs in a bounded thread pool so the event loop (and Slack's 3-second acks) never waits on
Prometheus. At most `max_workers` requests are in flight; the others wait their turn in the event loop, and a
request's time limit starts when it is sent, so a long queue of our own is never mistaken for a slow or
unreachable Prometheus. The library has no default timeout and retries 5xx answers with backoff for ~6 s;
both are replaced here (a timeout per request, no retries).
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from prometheus_api_client import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

T = TypeVar("T")

# Prometheus answers 400 (bad_data) for parse errors and 422 (execution) for queries it cannot run; any
# other status means we are not talking to a healthy Prometheus API, which is not the SLO author's fault.
QUERY_ERROR_STATUSES = frozenset({400, 422})
UNREACHABLE = "Prometheus unreachable"
"""How every `PrometheusUnreachable` message starts, so reports can tell it from "slow"."""
FIGURE_LABEL = "incidentbot_figure"
"""Tags each figure's series in a combined query; a name no exporter uses."""
_STATUS_MESSAGE = re.compile(r"HTTP Status Code (\d+) \((.*)\)\s*$", re.DOTALL)


class PrometheusError(Exception):
    """Anything that prevents a figure from being computed."""


class PrometheusUnreachable(PrometheusError):
    """Prometheus cannot be asked at all: refused, no route, DNS, TLS, or not a Prometheus API."""


class PrometheusSlow(PrometheusError):
    """Prometheus took the request but did not answer within the time limit (overloaded or a heavy query)."""


class NotGrouped(PrometheusError):
    """A grouped query's answer is not one series per grouping value; ask its SLOs one by one instead."""


class PrometheusQueryError(PrometheusError):
    """Prometheus rejected a query, or its answer is not the single series an SLO figure needs."""

    def __init__(self, message: str, query: str | None = None) -> None:
        super().__init__(message)
        self.query = query


def to_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC: `datetime.timestamp()` would otherwise read them as local time."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _unix(moment: datetime) -> str:
    # Fixed-point so requests never sends an exponent, and the library's own second-rounding is bypassed.
    return f"{to_utc(moment).timestamp():.3f}"


def _number(text: Any) -> float | None:
    """Prometheus sends sample values as strings; NaN and ±Inf mean "no usable data" (e.g. 0/0)."""
    value = float(text)
    return value if math.isfinite(value) else None


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of requests'/urllib3's wrapping (MaxRetryError → NewConnectionError → …)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or getattr(exc, "reason", None)
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _http_error(exc: PrometheusApiClientException) -> tuple[int | None, str]:
    """Status and Prometheus's own error text, recovered from the library's exception message.

    The library flattens the response into "HTTP Status Code 400 (b'{...}')"; the JSON body inside carries
    `errorType` and `error`, which is what a person fixing the query needs to read.
    """
    text = str(exc)
    match = _STATUS_MESSAGE.match(text)
    if not match:
        return None, text
    status = int(match.group(1))
    body: Any = match.group(2)
    try:
        body = ast.literal_eval(body)
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        payload = json.loads(body)
        detail = f"{payload.get('errorType', 'error')}: {payload.get('error', '')}".strip()
    except (ValueError, SyntaxError, AttributeError, TypeError):
        detail = str(body).strip()
    return status, detail[:1000]


class PrometheusClient:
    """Instant and range queries with pinned evaluation times, off the event loop, bounded in time."""

    def __init__(
        self,
        url: str,
        timeout: float = 3.5,
        max_workers: int = 4,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        """`headers` (a bearer token, a tenant id for Mimir or Thanos) and basic `auth` go with every call."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_workers = max_workers
        self._in_flight: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        no_retry = Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False)
        session = requests.Session()
        # requests picks the longest matching mount prefix, so this adapter (pool sized to the worker count,
        # no retries) wins over the one PrometheusConnect mounts on the bare URL with its default pool of 10.
        session.mount(f"{self.url}/", HTTPAdapter(max_retries=no_retry, pool_maxsize=max_workers))
        # TLS certificates stay verified (requests' default on our own session): the bot may send credentials.
        session.headers.update(headers or {})
        session.auth = auth
        self._connect = PrometheusConnect(url=self.url, retry=no_retry, session=session, timeout=timeout)
        self._session = session
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="prometheus")
        # Health checks get their own thread so /healthz never queues behind a 50-SLO evaluation.
        self._ping_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prometheus-ping")

    def __repr__(self) -> str:
        return f"PrometheusClient({self.url!r}, timeout={self.timeout}, max_workers={self.max_workers})"

    def close(self) -> None:
        """Drop pooled connections and let the worker threads end (queued requests are abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._ping_pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def failure(self, exc: BaseException) -> PrometheusError:
        """Slow (asked, no answer in time) or unreachable (could not ask), in words a person acts on."""
        root = _root_cause(exc)
        # requests reports a read timeout on a pooled connection as a ConnectionError around urllib3's
        # ReadTimeoutError: the cause, not the wrapper, says it was a timeout.
        if isinstance(exc, requests.ConnectTimeout):
            return PrometheusUnreachable(f"Prometheus unreachable (no connection within {self.timeout:g} s)")
        if isinstance(exc, requests.Timeout | TimeoutError) or isinstance(
            root, TimeoutError | ReadTimeoutError
        ):
            return PrometheusSlow(f"Prometheus slow (no answer within {self.timeout:g} s of asking)")
        return PrometheusUnreachable(f"Prometheus unreachable ({type(root).__name__}: {root})")

    def unreachable_text(self, exc: BaseException) -> str:
        return str(self.failure(exc))

    def _slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._in_flight is None or self._loop is not loop:
            self._in_flight, self._loop = asyncio.Semaphore(self.max_workers), loop
        return self._in_flight

    async def _call(self, fn: Callable[[], T], pool: ThreadPoolExecutor | None = None) -> T:
        """Run one blocking request in the pool once a slot is free; its time limit runs from the send."""
        loop = asyncio.get_running_loop()
        if pool is not None:  # the health check has a pool of its own and never queues
            return await self._send(loop, fn, pool)
        async with self._slots():
            return await self._send(loop, fn, self._pool)

    async def _send(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[[], T], pool: ThreadPoolExecutor
    ) -> T:
        try:
            # The request's own (connect, read) timeout bounds it; this only guards a wedged socket.
            return await asyncio.wait_for(loop.run_in_executor(pool, fn), self.timeout * 2 + 1)
        except (TimeoutError, requests.RequestException) as exc:
            # ConnectionError, Timeout, RetryError, invalid JSON from something that is not Prometheus, …
            raise self.failure(exc) from exc

    def _api(self, promql: str, call: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return call()
            except PrometheusApiClientException as exc:
                status, detail = _http_error(exc)
                if status in QUERY_ERROR_STATUSES:
                    raise PrometheusQueryError(f"{detail} (query: {promql[:300]})", promql) from exc
                shown = f"HTTP {status}: {detail}" if status else detail
                if detail.startswith("timeout:"):  # Prometheus's own query timeout: it is there, but busy
                    raise PrometheusSlow(f"Prometheus slow ({shown[:300]})") from exc
                raise PrometheusUnreachable(f"Prometheus unreachable ({shown[:300]})") from exc

        return run

    async def query(self, promql: str, at: datetime) -> float | None:
        """The single value of an instant query evaluated at `at`; None when there is no data.

        No data (an empty vector, NaN from 0/0, ±Inf) must never be read as 0 % or 100 %, and several series
        are refused rather than summed: a query that forgot its `sum(...)` would give a wrong SLI silently.
        """
        result = await self._call(
            self._api(promql, lambda: self._connect.custom_query(promql, params={"time": _unix(at)}))
        )
        return self._single_value(promql, result)

    @staticmethod
    def _single_value(promql: str, result: Any) -> float | None:
        if not result:
            return None
        if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
            return _number(result[1])  # a scalar: [timestamp, "value"]
        if isinstance(result, list) and all(isinstance(item, dict) for item in result):
            if any("values" in item for item in result):
                raise PrometheusQueryError(
                    "query returns a range vector; an SLO figure needs an instant one "
                    f"(query: {promql[:300]})",
                    promql,
                )
            if len(result) > 1:
                raise PrometheusQueryError(
                    f"query returns {len(result)} series; an SLO figure needs exactly one — aggregate it, "
                    f"e.g. with sum(...) (query: {promql[:300]})",
                    promql,
                )
            return _number(result[0]["value"][1])
        raise PrometheusQueryError(f"unexpected result {str(result)[:200]} (query: {promql[:300]})", promql)

    async def query_figures(self, figures: dict[str, str], at: datetime) -> dict[str, float | None]:
        """Several instant queries answered by one request, each figure tagged by `label_replace`.

        One request instead of ten per SLO cuts the client's CPU (the bottleneck on a small machine) and
        evaluates every figure at the same instant. When Prometheus rejects the combined query, each figure
        is asked on its own, so the error names the query at fault, as a single query's error would.
        """
        combined = " or ".join(
            f'label_replace(({promql}), "{FIGURE_LABEL}", "{name}", "", "")'
            for name, promql in figures.items()
        )
        try:
            result = await self._call(
                self._api(combined, lambda: self._connect.custom_query(combined, params={"time": _unix(at)}))
            )
        except PrometheusQueryError:
            values = await asyncio.gather(*(self.query(q, at) for q in figures.values()))
            return dict(zip(figures, values, strict=True))
        by_figure: dict[str, list[Any]] = {}
        for series in result or []:
            by_figure.setdefault(series.get("metric", {}).get(FIGURE_LABEL, ""), []).append(series)
        values: dict[str, float | None] = {}
        for name, promql in figures.items():
            found = by_figure.get(name, [])
            for series in found:
                series["metric"].pop(FIGURE_LABEL, None)
            values[name] = self._single_value(promql, found)
        return values

    def _post(self, path: str, form: dict[str, str]) -> Any:
        """A query API call with the query in a form body, as Prometheus accepts it.

        Grouped queries run to tens of kilobytes; in a URL (all prometheus-api-client sends) they would be
        refused by the proxies that usually stand in front of Prometheus (8 KiB request lines in nginx).
        """
        response = self._session.post(
            f"{self.url}{path}",
            data=form,
            timeout=self.timeout,
            headers=self._connect.headers,
            auth=self._connect.auth,
        )
        if response.status_code != 200:
            raise PrometheusApiClientException(
                f"HTTP Status Code {response.status_code} ({response.content!r})"
            )
        return response.json()["data"]["result"]

    async def query_grouped(
        self, figures: dict[str, str], at: datetime, label: str
    ) -> dict[str, dict[str, float | None]]:
        """Figures of a group of SLOs in one request: figure -> grouping value -> value.

        Raises `NotGrouped` when any series carries a label other than `label` (the rewrite did not hold).
        """
        combined = " or ".join(
            f'label_replace(({promql}), "{FIGURE_LABEL}", "{name}", "", "")'
            for name, promql in figures.items()
        )
        form = {"query": combined, "time": _unix(at)}
        result = await self._call(self._api(combined, lambda: self._post("/api/v1/query", form)))
        values: dict[str, dict[str, float | None]] = {name: {} for name in figures}
        for series in result or []:
            metric = dict(series.get("metric", {}))
            name = metric.pop(FIGURE_LABEL, None)
            if name not in values or set(metric) != {label} or metric[label] in values[name]:
                raise NotGrouped(f"grouped answer has a series {metric}")
            values[name][metric[label]] = _number(series["value"][1])
        return values

    async def query_range_grouped(
        self, promql: str, start: datetime, end: datetime, step: timedelta, label: str
    ) -> dict[str, list[tuple[datetime, float | None]]]:
        """A group's range query: grouping value -> points, oldest first."""
        form = {
            "query": promql,
            "start": _unix(start),
            "end": _unix(end),
            "step": f"{step.total_seconds():.3f}",
        }
        result = await self._call(self._api(promql, lambda: self._post("/api/v1/query_range", form)))
        out: dict[str, list[tuple[datetime, float | None]]] = {}
        for series in result or []:
            metric = series.get("metric", {})
            if set(metric) != {label} or metric[label] in out:
                raise NotGrouped(f"grouped answer has a series {metric}")
            out[metric[label]] = [
                (datetime.fromtimestamp(float(ts), UTC), _number(v)) for ts, v in series["values"]
            ]
        return out

    async def query_range(
        self, promql: str, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float | None]]:
        """Points of the single series of a range query, oldest first; NaN/Inf become None."""
        params = {"start": _unix(start), "end": _unix(end)}
        step_text = f"{step.total_seconds():.3f}"
        result = await self._call(
            self._api(
                promql,
                lambda: self._connect.custom_query_range(
                    promql, start_time=start, end_time=end, step=step_text, params=params
                ),
            )
        )
        if not result:
            return []
        if len(result) > 1:
            raise PrometheusQueryError(
                f"query returns {len(result)} series; an SLO figure needs exactly one — aggregate it, "
                f"e.g. with sum(...) (query: {promql[:300]})",
                promql,
            )
        return [(datetime.fromtimestamp(float(ts), UTC), _number(value)) for ts, value in result[0]["values"]]

    async def ping(self) -> str | None:
        """None when Prometheus is ready, else why not — for /healthz, which must not raise or hang."""

        def ready() -> requests.Response:
            return self._session.get(f"{self.url}/-/ready", timeout=self.timeout)

        try:
            response = await self._call(ready, self._ping_pool)
        except (PrometheusUnreachable, PrometheusSlow) as exc:
            return str(exc)
        if response.status_code != 200:
            return f"Prometheus not ready (HTTP {response.status_code}: {response.text.strip()[:200]})"
        return None
