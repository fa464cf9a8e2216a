"""The stand-in's switches for a slow or stingy Slack, seen from a client on the wire: a per-method delay,
a hang, a sequence of HTTP statuses, and a sliding-window rate limit with Retry-After."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from bot.standin import RunningStandin, Workspace, eventually
from tests.fixtures_slack import BOT_TOKEN


async def call(
    standin: RunningStandin, method: str, within: float = 10, **args: Any
) -> tuple[int, dict[str, Any], str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within)) as session,
        session.post(
            f"{standin.api_url}{method}", json=args, headers={"Authorization": f"Bearer {BOT_TOKEN}"}
        ) as response,
    ):
        return response.status, await response.json(), response.headers.get("Retry-After", "")


async def test_a_delay_holds_only_the_matching_calls(standin: RunningStandin, workspace: Workspace) -> None:
    workspace.delay("chat.postMessage", 0.3, times=1, when=lambda a: a.get("channel") == "C0INCIDENT")
    started = time.monotonic()
    await call(standin, "chat.postMessage", channel="C0GENERAL0", text="fast")
    assert workspace.held() == []
    held = asyncio.create_task(call(standin, "chat.postMessage", channel="C0INCIDENT", text="slow"))
    [arrival] = await eventually(lambda: workspace.held("chat.postMessage"))
    assert arrival.args["text"] == "slow" and not held.done()
    status, body, _ = await held
    assert (status, body["ok"]) == (200, True)
    assert time.monotonic() - started >= 0.3


async def test_a_late_answer_acts_first(standin: RunningStandin, workspace: Workspace) -> None:
    workspace.delay("chat.postMessage", 0.3, times=1, after=True)
    answer = asyncio.create_task(call(standin, "chat.postMessage", channel="C0GENERAL0", text="done, late"))
    await eventually(lambda: any(m.text == "done, late" for m in workspace.messages("C0GENERAL0")))
    assert not answer.done()  # posted, but the client does not know yet
    status, body, _ = await answer
    assert (status, body["ok"]) == (200, True)


async def test_every_method_can_be_slowed_at_once(standin: RunningStandin, workspace: Workspace) -> None:
    workspace.delay("*", 0.2)
    started = time.monotonic()
    await asyncio.gather(call(standin, "auth.test"), call(standin, "conversations.list"))
    assert time.monotonic() - started >= 0.2
    assert sorted(a.method for a in workspace.held()) == ["auth.test", "conversations.list"]


async def test_a_hang_outlasts_the_client(standin: RunningStandin, workspace: Workspace) -> None:
    workspace.hang_next("conversations.create")
    try:
        await call(standin, "conversations.create", within=0.3, name="inc-hung")
    except TimeoutError:
        pass
    else:
        raise AssertionError("a hung call was answered")
    status, body, _ = await call(standin, "conversations.create", name="inc-next")
    assert (status, body["ok"]) == (200, True)  # only the next call hung


async def test_a_status_sequence_is_answered_in_order(standin: RunningStandin, workspace: Workspace) -> None:
    workspace.respond_with("pins.add", [500, 429, 200], retry_after=3)
    answers = [await call(standin, "pins.add", channel="C0GENERAL0", timestamp="1.0") for _ in range(3)]
    assert [(status, retry) for status, _, retry in answers] == [(500, ""), (429, "3"), (200, "")]
    assert answers[2][1]["error"] == "message_not_found"  # the third went through to the method itself


async def test_a_sliding_window_limits_and_says_when(standin: RunningStandin, workspace: Workspace) -> None:
    workspace.rate_limit("conversations.create", 3, window_seconds=2)
    answers = [await call(standin, "conversations.create", name=f"inc-w{n}") for n in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    assert answers[3][1] == {"ok": False, "error": "ratelimited"} and 1 <= int(answers[3][2]) <= 2

    async def admitted() -> bool:
        status, _, _ = await call(standin, "conversations.create", name=f"inc-w{len(workspace.calls)}")
        return status == 200

    await eventually(admitted, timeout=3, interval=0.25)  # once the oldest call has left the window
    assert len([c for c in workspace.calls_to("conversations.create") if c.ok]) == 4
