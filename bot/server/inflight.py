"""Work Slack was already told is done: Bolt acks first and runs the rest of a listener in a task of its
own, which nothing else awaits. A shutdown (a deploy's SIGTERM) that does not wait for those tasks cuts
an incident's set-up in half: channel created, summary never pinned, and Slack will not retry."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import slack_bolt

log = logging.getLogger(__name__)
_BOLT_LISTENERS = Path(slack_bolt.__file__).parent / "listener"


def listener_tasks() -> list[asyncio.Task[object]]:
    """Bolt's listener tasks still running in this loop (identified by where their coroutine lives)."""
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and _runs_a_listener(task)]


def _runs_a_listener(task: asyncio.Task[object]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and Path(code.co_filename).is_relative_to(_BOLT_LISTENERS)


async def drain(grace_seconds: float) -> int:
    """Let acked listeners finish within the grace period, then cancel the rest; how many were cancelled."""
    pending = listener_tasks()
    if not pending:
        return 0
    log.info(
        "shutting down: waiting up to %g s for %d Slack handler(s) to finish", grace_seconds, len(pending)
    )
    _, late = await asyncio.wait(pending, timeout=grace_seconds)
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=1)
        log.warning(
            "shutting down: cancelled %d Slack handler(s) still running after %g s", len(late), grace_seconds
        )
    return len(late)
