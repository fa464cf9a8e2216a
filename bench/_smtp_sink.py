"""A local SMTP server (aiosmtpd) for the subscriber bench, in a process of its own so its work shares no
interpreter with the bot or the load generator. It accepts everything, keeps nothing, and on SIGTERM
prints how many messages it took and how many carried RFC 8058 headers.

Not a bench itself (`make bench` skips files starting with `_`). Usage: `_smtp_sink.py PORT`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from aiosmtpd.smtp import SMTP


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.one_click = 0
        self.recipients: set[str] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        content = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        self.one_click += b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in head
        self.recipients.update(envelope.rcpt_tos)
        return "250 OK"


async def main(port: int) -> None:
    counter = Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(counter, hostname="127.0.0.1"), "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    summary = {
        "messages": counter.messages,
        "one_click": counter.one_click,
        "recipients": len(counter.recipients),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
