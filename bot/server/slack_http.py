"""The gate in front of Bolt on `POST /slack/events`: signature on the raw bytes first, then a bounded
parse, then "seen this exact request before?".

Bolt parses the body before it checks the signature, and a body it cannot parse (`payload={not json`,
non-UTF-8 bytes, JSON nested 100,000 deep, a non-numeric timestamp) ends in an HTTP 500 and an ERROR
traceback, for anyone on the internet. Here an unsigned or badly signed request gets 401 before a byte of
it is parsed, a signed but malformed one gets 400 and one WARNING line (never the body, which may hold
user text), and only a request that is both signed and well formed reaches Bolt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 5 * 60
"""Slack's own rule: a request signed more than five minutes ago (or ahead) is a replay."""
MAX_DEPTH = 64
"""Slack's deepest payloads (a modal's state inside a view inside a block action) nest about 12 deep."""
MAX_TIMESTAMP_DIGITS = 12
SIGNED_PREFIX = "signed:"
"""Replay claims: the signature of each signed request acted on."""


class Refused(Exception):
    """The request is answered with `status` and `reason`, and Bolt never sees it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature_problem(
    raw: bytes, timestamp: str | None, signature: str | None, secret: str, now: float
) -> str | None:
    """Why the v0 signature of `raw` does not hold, or None when it does; no byte of the body is parsed."""
    if not timestamp or not signature:
        return "no X-Slack-Request-Timestamp / X-Slack-Signature"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        return "the timestamp is not a number"
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "the timestamp is more than five minutes away"
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "the signature does not match"
    return None


def nesting_depth(text: str) -> int:
    """The deepest nesting of JSON arrays and objects in `text`, counted without parsing it (Python's
    parser recurses and raises RecursionError on deep input)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _json_object(text: str, what: str) -> dict[str, Any]:
    if nesting_depth(text) > MAX_DEPTH:
        raise Refused(400, f"{what} is nested more than {MAX_DEPTH} deep")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Refused(400, f"{what} is not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is not a JSON object")
    return value


def check_body(raw: bytes, content_type: str) -> None:
    """Raise `Refused(400)` unless Bolt can parse this body the way its content type says."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"the body is not UTF-8 (byte {exc.start})") from None
    if content_type == "application/json":
        _json_object(text, "the JSON body")
        return
    try:
        form = urllib.parse.parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"the form body cannot be read ({exc})") from None
    if "payload" in form:
        _json_object(form["payload"][0], "the payload")
    elif text and "command" not in form and "type" not in form:
        raise Refused(400, "the body is neither a slash command, an interaction nor an event")


@dataclass(frozen=True)
class SlackGate:
    """Checks one delivery; `seen_before(key)` is the shared "acted on this already" claim."""

    secret: str | None
    seen_before: Callable[[str], Awaitable[bool]]
    clock: Callable[[], float] = time.time

    async def check(self, raw: bytes, headers: Any) -> bool:
        """True when Bolt should handle the request; False for an identical signed request seen again
        within the five minutes a signature is valid (answered 200 and not acted on: a replay) and for
        Slack's `ssl_check` probe.
        Raises `Refused` for 401 and 400."""
        if raw.startswith(b"ssl_check=1"):
            return False  # Slack's certificate probe: answered 200 and not acted on, signed or not
        timestamp = headers.get("X-Slack-Request-Timestamp")
        signature = headers.get("X-Slack-Signature")
        if self.secret is not None:
            problem = signature_problem(raw, timestamp, signature, self.secret, self.clock())
            if problem is not None:
                raise Refused(401, problem)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        check_body(raw, content_type)
        if self.secret is None or not signature:
            return True
        try:
            if await self.seen_before(f"{SIGNED_PREFIX}{signature}"):
                log.info("ignored a replayed Slack request (identical bytes and signature)")
                return False
        except Exception as exc:  # the database is away: let Bolt try, /healthz says what is wrong
            log.warning("could not check Slack request for replay: %s: %s", type(exc).__name__, exc)
        return True
