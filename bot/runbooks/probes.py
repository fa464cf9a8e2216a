"""`check` steps (a PromQL value against a condition) and `http` steps (an endpoint's status and body).

Neither raises for anything the world can do to it: no Prometheus, an unreachable one, a rejected query,
no data, refused connections and timeouts all become a failed `ProbeResult` whose summary says why.
"""

from __future__ import annotations

import asyncio
import math
import operator
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from bot.runbooks.execute import Redactor
from bot.runbooks.fields import parse_condition
from bot.runbooks.schema import Step
from bot.slo.prometheus import PrometheusClient, PrometheusQueryError, PrometheusSlow, PrometheusUnreachable

__all__ = ["BODY_LIMIT", "ProbeResult", "parse_condition", "run_check", "run_http"]

BODY_LIMIT = 64 * 1024
"""Bytes of a response body read (and searched for `expect_body`); the rest is never downloaded."""
DETAIL_BODY = 2000
"""Characters of the body shown in the detail."""
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    summary: str
    """One line: "0.031 < 0.05: pass", "HTTP 200 in 12 ms: pass", "no data: fail"."""
    detail: str
    """What was asked and answered, redacted (for the thread / the timeline)."""
    duration: timedelta


def _verdict(passed: bool) -> str:
    return "pass" if passed else "fail"


def _number(value: float) -> str:
    return f"{value:.4g}"


def _seconds(seconds: float) -> str:
    return f"{seconds:g} s"


async def run_check(step: Step, prometheus: PrometheusClient | None, at: datetime) -> ProbeResult:
    """Evaluate `step.query` at `at` and compare the single value with `step.condition`."""
    started = time.monotonic()
    query = step.query or ""

    def result(passed: bool, summary: str, detail: str) -> ProbeResult:
        return ProbeResult(passed, summary, detail, timedelta(seconds=time.monotonic() - started))

    asked = f"query: {query}\ncondition: {step.condition}\nat: {at.isoformat()}"
    try:
        op, threshold = parse_condition(step.condition or "")
    except ValueError as exc:
        return result(False, f"bad condition: {exc}: fail", asked)
    if prometheus is None:
        return result(False, "Prometheus is not configured (INCIDENTBOT_PROMETHEUS_URL): fail", asked)
    timeout = step.timeout.total_seconds()
    try:
        value = await asyncio.wait_for(prometheus.query(query, at), timeout)
    except TimeoutError:
        return result(False, f"Prometheus did not answer within {_seconds(timeout)}: fail", asked)
    except (PrometheusUnreachable, PrometheusSlow) as exc:
        return result(False, f"{exc}: fail", asked)
    except PrometheusQueryError as exc:
        return result(False, f"query error: {exc}: fail", asked)
    if value is None or math.isnan(value):
        return result(False, "no data: fail", f"{asked}\nresult: no data (empty, NaN or infinite)")
    passed = _OPERATORS[op](value, threshold)
    summary = f"{_number(value)} {op} {threshold:g}: {_verdict(passed)}"
    return result(passed, summary, f"{asked}\nresult: {value!r}")


async def _read_bounded(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """Up to BODY_LIMIT bytes of the body, and whether there was more."""
    body = bytearray()
    while len(body) < BODY_LIMIT:
        chunk = await response.content.read(BODY_LIMIT - len(body))
        if not chunk:
            return bytes(body), False
        body += chunk
    return bytes(body), not response.content.at_eof()


def _connect_reason(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    errno = getattr(os_error, "errno", None)
    reason = os.strerror(errno) if errno else str(os_error) or type(os_error).__name__
    return f"cannot connect to {exc.host}:{exc.port}: {reason}"


async def run_http(step: Step, redact: Redactor) -> ProbeResult:
    """Request `step.url` (redirects are not followed) and check the status and the body's first 64 KiB."""
    started = time.monotonic()
    url = step.url or ""
    asked = redact(f"{step.method} {url}")

    def result(passed: bool, summary: str, detail: str) -> ProbeResult:
        return ProbeResult(
            passed, redact(summary), redact(detail), timedelta(seconds=time.monotonic() - started)
        )

    expected = f"expect HTTP {step.expect_status}" + (
        f" and a body containing {step.expect_body!r}" if step.expect_body is not None else ""
    )
    timeout = step.timeout.total_seconds()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.request(
                step.method, url, headers=step.headers, data=step.body, allow_redirects=False
            ) as response,
        ):
            body, more = await _read_bounded(response) if step.method != "HEAD" else (b"", False)
            status, reason = response.status, response.reason or ""
            location = response.headers.get("Location")
    except TimeoutError:
        return result(False, f"no answer within {_seconds(timeout)}: fail", f"{asked}\n{expected}")
    except aiohttp.ClientConnectorError as exc:
        return result(False, f"{_connect_reason(exc)}: fail", f"{asked}\n{expected}")
    except (aiohttp.ClientError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        return result(False, f"request failed: {reason}: fail", f"{asked}\n{expected}")
    elapsed_ms = (time.monotonic() - started) * 1000
    text = body.decode("utf-8", "replace")
    problems = []
    if status != step.expect_status:
        problems.append(f"expected {step.expect_status}")
        if location and 300 <= status < 400:
            problems.append(f"redirect to {location} not followed")
    if step.expect_body is not None and step.expect_body not in text:
        scope = "the first 64 KiB of the body" if more else "the body"
        problems.append(f"{scope} lacks {step.expect_body!r}")
    passed = not problems
    summary = f"HTTP {status} in {elapsed_ms:.0f} ms" + (f", {', '.join(problems)}" if problems else "")
    shown = text[:DETAIL_BODY] + ("…" if len(text) > DETAIL_BODY or more else "")
    detail = f"{asked}\n{expected}\nHTTP {status} {reason}\n{shown}".rstrip()
    return result(passed, f"{summary}: {_verdict(passed)}", detail)
