"""The outgoing webhook: a JSON body with the incident, signed so the receiver can trust it.

`X-Incidentbot-Timestamp: <unix seconds>` and `X-Incidentbot-Signature: sha256=<hex HMAC-SHA256 of
"timestamp.body">`, as GitHub and Slack sign theirs: the timestamp inside the MAC lets the receiver refuse
replays. One attempt per call; retries with a growing delay are durable timers (the service's).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

TIMESTAMP_HEADER = "X-Incidentbot-Timestamp"
SIGNATURE_HEADER = "X-Incidentbot-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (the tests do it too)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


@dataclass(frozen=True)
class Delivery:
    status: int | None
    """The HTTP status, None when no answer came (connection refused, timeout)."""
    millis: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """A 4xx other than 408/429 will not get better by asking again."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)


async def deliver(
    url: str, payload: dict[str, Any], secret: str | None, limit_s: float, now: float
) -> Delivery:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
    timestamp = str(int(now))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit_s)) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            await response.read()
            millis = int((time.perf_counter() - started) * 1000)
            error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
            return Delivery(response.status, millis, error)
    except TimeoutError:
        return Delivery(None, int((time.perf_counter() - started) * 1000), f"no answer within {limit_s:g} s")
    except aiohttp.ClientError as exc:
        return Delivery(None, int((time.perf_counter() - started) * 1000), f"{type(exc).__name__}: {exc}")
