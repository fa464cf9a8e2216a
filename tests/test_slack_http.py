"""What reaches `/slack/events` from anyone on the internet: the signature is checked on the raw bytes
before anything is parsed, malformed signed bodies get a 400 and one log line, and a replayed signed
request acts once."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse

import pytest

from bot.domain import EventKind
from bot.standin import eventually
from tests.fixtures_bot import ALICE, GENERAL, BotUnderTest
from tests.test_lifecycle import declare

FORM = "application/x-www-form-urlencoded"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


MALFORMED: dict[str, tuple[bytes, str]] = {
    "payload that is not JSON": (b"payload={not json", FORM),
    "bytes that are not UTF-8": (b"payload=\xff\xfe\xfa", FORM),
    "payload nested 10k deep": (urllib.parse.urlencode({"payload": nested(10_000)}).encode(), FORM),
    "payload nested 100k deep": (urllib.parse.urlencode({"payload": nested(100_000)}).encode(), FORM),
    "JSON body nested 50k deep": (('{"a":' * 50_000 + "1" + "}" * 50_000).encode(), "application/json"),
    "form body labelled JSON": (
        urllib.parse.urlencode({"command": "/incident"}).encode(),
        "application/json",
    ),
    "JSON body that is a list": (b"[1, 2]", "application/json"),
    "payload that is a string": (urllib.parse.urlencode({"payload": '"x"'}).encode(), FORM),
    "neither command nor interaction": (b"hello=world", FORM),
    "a broken form": (b"%%%=&&&", FORM),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_unsigned_bodies_are_refused_before_they_are_read(bot: BotUnderTest, case: str) -> None:
    body, content_type = MALFORMED[case]
    unsigned = await bot.driver.raw(body, {"Content-Type": content_type})
    assert unsigned.status == 401
    badly_signed = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    }
    assert (await bot.driver.raw(body, badly_signed)).status == 401


async def test_a_timestamp_that_is_not_a_number_is_refused(bot: BotUnderTest) -> None:
    body = b"command=%2Fincident&text=help"
    headers = {"Content-Type": FORM, **bot.driver.signed_headers(body)}
    for timestamp in ("soon", "1e9", "", "٣٣٣", "9" * 40):
        response = await bot.driver.raw(body, {**headers, "X-Slack-Request-Timestamp": timestamp})
        assert response.status == 401, timestamp


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_signed_malformed_bodies_get_400_and_one_warning_line(
    bot: BotUnderTest, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, content_type = MALFORMED[case]
    caplog.set_level(logging.INFO)
    response = await bot.driver.raw(body, {"Content-Type": content_type, **bot.driver.signed_headers(body)})
    assert response.status == 400, response.body
    assert response.json and response.json["ok"] is False
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    [warning] = problems
    assert warning.exc_info is None and "\n" not in warning.getMessage()
    assert warning.getMessage().startswith("refused a Slack request")
    assert body[:20].decode("utf-8", "replace") not in warning.getMessage()


async def test_a_replayed_signed_note_is_added_once(bot: BotUnderTest) -> None:
    incident = await declare(bot)
    form = {
        "command": "/incident",
        "text": "note Rolled back payments-api",
        "user_id": ALICE,
        "user_name": "alice",
        "channel_id": incident.channel_id or "",
        "team_id": bot.workspace.team_id,
        "trigger_id": bot.workspace.issue_trigger(ALICE),
        "response_url": "",
    }
    body = urllib.parse.urlencode(form).encode()
    headers = {"Content-Type": FORM, **bot.driver.signed_headers(body)}
    first = await bot.driver.raw(body, headers)
    assert first.status == 200 and "Added to the" in first.body
    for _ in range(3):  # identical bytes and headers within the five minutes the signature is valid
        assert (await bot.driver.raw(body, headers)).status == 200

    async def notes() -> list[str]:
        events = await bot.runtime.incidents.store.timeline(incident.id)
        return [e.text for e in events if e.kind == EventKind.NOTE_ADDED]

    assert await eventually(notes) == ["Rolled back payments-api"]
    # The same words typed again are a new request (a new timestamp and signature) and are added.
    later = {"Content-Type": FORM, **bot.driver.signed_headers(body, timestamp=int(time.time()) + 1)}
    assert (await bot.driver.raw(body, later)).status == 200
    assert await eventually(lambda: _count(notes(), 2))


async def _count(found: object, n: int) -> bool:
    return len(await found) == n  # type: ignore[misc, arg-type]


async def test_well_formed_requests_still_work(bot: BotUnderTest) -> None:
    response = await bot.driver.slash(ALICE, GENERAL, "help")
    assert response.status == 200 and "/incident" in response.body
    event = await bot.driver.url_verification("challenge-123")
    assert event.status == 200 and json.loads(event.body)["challenge"] == "challenge-123"
    probe = await bot.driver.raw(b"ssl_check=1&token=x", {"Content-Type": FORM})
    assert probe.status == 200  # Slack's certificate check
    empty = await bot.driver.raw(b"", {"Content-Type": FORM, **bot.driver.signed_headers(b"")})
    assert empty.status in (200, 400, 404)  # nothing to do, never a 500
