"""Public updates e-mailed to the status page's confirmed subscribers: by component, once however often the
publication is told, with RFC 8058 one-click unsubscribe, threaded per incident; private incidents never.
Updates are posted as people post them (signed Slack requests); mail arrives at a real SMTP server."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain import EventKind
from bot.services.subscriber_mail import FANOUT, SubscriberMail
from bot.standin import RunningStandin, eventually
from bot.statuspage.model import Publication, PublicDraft
from bot.timers import Timer
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG, BotUnderTest
from tests.fixtures_smtp import MAIL_FROM, Received, SmtpServer
from tests.statuspage_helpers import post_public
from tests.subscriber_helpers import (
    SECRET,
    link_in,
    request,
    subscribe,
    subscribed,
    subscriber,
    subscribing_bot,
    updates_to,
)
from tests.test_lifecycle import declare

ALL, CHECKOUT, API, PENDING = (
    "all@example.org",
    "checkout@example.org",
    "api@example.org",
    "pending@example.org",
)
UNSUBSCRIBE = "/status/unsubscribe"


def mail_of(bot: BotUnderTest) -> SubscriberMail:
    assert bot.runtime.subscriber_mail is not None
    return bot.runtime.subscriber_mail


async def publish(bot: BotUnderTest, incident_id: int, status: str, body: str) -> None:
    incident = await bot.incident(incident_id)
    await post_public(
        bot, ALICE, incident, {"public_status": {"value": status}, "public_body": {"value": body}}
    )


async def mails(server: SmtpServer, email: str, count: int) -> list[Received]:
    return await eventually(lambda: _exactly(updates_to(server, email), count), timeout=15)


def _exactly(found: list[Received], count: int) -> list[Received] | None:
    assert len(found) <= count, f"{len(found)} mails, expected {count}"
    return found if len(found) == count else None


async def replay(bot: BotUnderTest, incident_id: int) -> None:
    """Tell every listener of the latest publication again, and run its fan-out job once more, as a crash
    and a retried job would."""
    statuspage = bot.runtime.statuspage
    public = await statuspage.store.incident(incident_id)
    assert public is not None
    update = public.latest
    publication = Publication(update, public, tuple(public.affected(len(public.updates) - 1, {})), "")
    for listener in statuspage.listeners:
        await listener.on_published(publication)
    now = datetime.now(UTC)
    timer = Timer(0, FANOUT, None, None, now, {"update": update.id}, 1, now)
    await mail_of(bot).fanout(timer)


async def test_a_public_update_reaches_the_subscribers_of_its_components_once(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribed(bot, smtp_server, ALL)
        await subscribed(bot, smtp_server, CHECKOUT, ["checkout"])
        await subscribed(bot, smtp_server, API, ["api"])
        await subscribe(bot, PENDING)  # never confirmed

        incident = await declare(bot, "Payments are failing")  # service checkout -> component checkout
        await publish(bot, incident.id, "investigating", "Card payments fail for some customers.")
        [first] = await mails(smtp_server, ALL, 1)
        [checkout_first] = await mails(smtp_server, CHECKOUT, 1)

        message = first.message
        assert first.recipients == [ALL]
        assert message["Subject"] == "[Example Status] Payments are failing: Investigating"
        text, html = first.part("plain"), first.part("html")
        assert "Card payments fail for some customers." in text and "Checkout: Partial Outage" in text
        assert f"https://status.example.com/status/incidents/{incident.id}" in text
        unsubscribe = link_in(text, UNSUBSCRIBE)
        assert unsubscribe in html
        assert message["List-Unsubscribe"] == f"<https://status.example.com{unsubscribe}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert link_in(checkout_first.part("plain"), UNSUBSCRIBE) != unsubscribe  # each their own link

        await replay(bot, incident.id)
        await publish(bot, incident.id, "identified", "A payment provider fails; we are switching.")
        [_, second] = await mails(smtp_server, ALL, 2)
        await mails(smtp_server, CHECKOUT, 2)
        # One thread per incident and subscriber.
        assert second.message["In-Reply-To"] == first.message_id
        assert second.message["References"] == first.message_id
        assert "Identified" in str(second.message["Subject"])

        # Each update was for two subscribers exactly (the rows are the idempotency keys), and both went.
        notices = mail_of(bot).notices
        public = await bot.runtime.statuspage.store.incident(incident.id)
        assert public is not None
        for update in public.updates:
            notice = await notices.notice(f"update:{update.id}")
            assert notice is not None
            await eventually(lambda notice=notice: _all_sent(bot, notice.id, 2))
        assert updates_to(smtp_server, API) == []  # the api's subscriber hears nothing of checkout
        assert updates_to(smtp_server, PENDING) == []  # nor does an address that never confirmed
        assert len(updates_to(smtp_server, ALL)) == 2


async def test_one_click_unsubscribe_stops_the_mail_and_a_link_scanner_does_not(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribed(bot, smtp_server, ALL)
        await subscribed(bot, smtp_server, CHECKOUT, ["checkout"])
        incident = await declare(bot, "Payments are failing")
        await publish(bot, incident.id, "investigating", "Card payments fail for some customers.")
        [mail] = await mails(smtp_server, CHECKOUT, 1)
        path = link_in(mail.part("plain"), UNSUBSCRIBE)

        page = await request(bot, "GET", path)  # what a link scanner (or a person) sees: a button
        assert page.status == 200 and "<button" in page.text and "checkout@example.org" in page.text
        assert page.headers["Referrer-Policy"] == "no-referrer"
        found = await subscriber(bot, CHECKOUT)
        assert found is not None and found.status == "confirmed"

        one_click = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = await request(bot, "POST", path, "List-Unsubscribe=One-Click", **one_click)
        assert answer.status == 200 and "You are unsubscribed" in answer.text
        gone = await subscriber(bot, CHECKOUT)
        assert gone is not None and gone.status == "unsubscribed"
        assert (await request(bot, "POST", path, "List-Unsubscribe=One-Click", **one_click)).status == 200

        await publish(bot, incident.id, "identified", "A payment provider fails; we are switching.")
        await mails(smtp_server, ALL, 2)
        latest = await eventually(lambda: _latest_update(bot, incident.id, 2))
        await settled(bot, f"update:{latest}", {"sent": 1})  # for ALL only
        assert len(updates_to(smtp_server, CHECKOUT)) == 1

        # Subscribing again needs a new confirmation: the old link is stale.
        tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
        assert (await request(bot, "POST", tampered, "List-Unsubscribe=One-Click", **one_click)).status == 400


async def test_maintenance_reaches_the_subscribers_of_its_components(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribed(bot, smtp_server, ALL)
        await subscribed(bot, smtp_server, API, ["api"])
        await subscribed(bot, smtp_server, CHECKOUT, ["checkout"])
        statuspage = bot.runtime.statuspage
        start = datetime.now(UTC) + timedelta(days=1)
        added = await statuspage.add_maintenance(
            "Datenbank-Upgrade <b>Ä</b>",
            "Short read-only window.",
            ["api"],
            start,
            start + timedelta(hours=1),
            "ops",
            "cli",
            "m1",
        )
        assert added is not None
        [mail] = await mails(smtp_server, API, 1)
        assert mail.message["Subject"] == "[Example Status] Scheduled maintenance: Datenbank-Upgrade <b>Ä</b>"
        assert "Datenbank-Upgrade &lt;b&gt;Ä&lt;/b&gt;" in mail.part("html") and "<b>Ä" not in mail.part(
            "html"
        )
        assert "Short read-only window." in mail.part("plain") and "API: Under Maintenance" in mail.part(
            "plain"
        )
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        await mails(smtp_server, ALL, 1)
        await statuspage.cancel_maintenance(added.id, "ops")
        cancelled = (await mails(smtp_server, API, 2))[1]
        assert "Maintenance cancelled" in str(cancelled.message["Subject"])
        await mails(smtp_server, ALL, 2)
        for state in ("scheduled", "cancelled"):
            await settled(bot, f"maintenance:{added.id}:{state}", {"sent": 2})  # ALL and API
        assert updates_to(smtp_server, CHECKOUT) == []


async def test_a_private_incident_never_reaches_a_subscriber(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    """The status page refuses a public update of a private incident; should one be stored all the same (a
    bug elsewhere, a hand-edited database), the fan-out still tells nobody."""
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribed(bot, smtp_server, ALL)
        private = await declare(bot, "Secret breach", private={"value": ["private"]})
        statuspage = bot.runtime.statuspage
        draft = PublicDraft("investigating", "Breach", "Leaked.", {"checkout": "major_outage"})
        event = (EventKind.STATUS_PAGE_PUBLISHED, "Leaked.", {"source": "test"})
        stored = await statuspage.store.add(
            private.id, draft, "critical", ALICE, "cli", datetime.now(UTC), "leak", ALICE, event
        )
        assert stored is not None and stored.state == "published"
        now = datetime.now(UTC)
        await mail_of(bot).fanout(Timer(0, FANOUT, None, None, now, {"update": stored.id}, 1, now))
        assert await mail_of(bot).notices.notice(f"update:{stored.id}") is None
        # A public incident's update afterwards is the barrier: had anything been queued, it came first.
        public = await declare(bot, "Payments are failing")
        await publish(bot, public.id, "investigating", "Card payments fail for some customers.")
        [only] = await mails(smtp_server, ALL, 1)
        assert "Breach" not in str(only.message["Subject"]) and "Leaked" not in only.part("plain")


async def test_mail_waits_while_the_relay_is_down_and_goes_out_once_when_it_is_back(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribed(bot, smtp_server, ALL)
        await subscribed(bot, smtp_server, CHECKOUT, ["checkout"])
        smtp_server.stop()
        incident = await declare(bot, "Payments are failing")
        await publish(bot, incident.id, "investigating", "Card payments fail for some customers.")
        notices = mail_of(bot).notices
        public = await eventually(lambda: bot.runtime.statuspage.store.incident(incident.id))
        key = f"update:{public.latest.id}"
        notice = await eventually(lambda: notices.notice(key), timeout=10)
        await eventually(lambda: _tried(bot, notice.id), timeout=10)  # refused, waiting to try again
        smtp_server.start()
        await mails(smtp_server, ALL, 1)
        await mails(smtp_server, CHECKOUT, 1)
        assert await eventually(lambda: _all_sent(bot, notice.id, 2), timeout=10)


async def _tried(bot: BotUnderTest, notice_id: int) -> bool:
    return any(t.payload.get("notice") == notice_id for t in await bot.runtime.scheduler.store.pending())


async def _all_sent(bot: BotUnderTest, notice_id: int, count: int) -> bool:
    return await mail_of(bot).notices.tally(notice_id) == {"sent": count}


async def settled(bot: BotUnderTest, key: str, tally: dict[str, int]) -> None:
    """Wait until the notice `key` has exactly the mails of `tally` (a wrong extra row fails it)."""
    notices = mail_of(bot).notices
    notice = await eventually(lambda: notices.notice(key))
    await eventually(lambda: _tally_is(bot, notice.id, tally), message=f"{key} settles at {tally}")


async def _tally_is(bot: BotUnderTest, notice_id: int, tally: dict[str, int]) -> bool:
    return await mail_of(bot).notices.tally(notice_id) == tally


async def _latest_update(bot: BotUnderTest, incident_id: int, count: int) -> int | None:
    public = await bot.runtime.statuspage.store.incident(incident_id)
    return public.latest.id if public is not None and len(public.updates) == count else None


async def test_an_update_posted_from_the_cli_reaches_the_subscribers_and_its_export_has_the_form(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """The CLI queues the fan-out (it needs the secret for that); the serving bot sends."""
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribed(bot, smtp_server, ALL)
        incident = await declare(bot, "Payments are failing")
        env = {
            **os.environ,
            "INCIDENTBOT_DATABASE_URL": database_url,
            "INCIDENTBOT_CONFIG": str(EXAMPLE_CONFIG),
            "INCIDENTBOT_SUBSCRIPTION_SECRET": SECRET,
            "INCIDENTBOT_SMTP_URL": smtp_server.url(),
            "INCIDENTBOT_MAIL_FROM": MAIL_FROM,
        }
        env.pop("SLACK_BOT_TOKEN", None)
        for args in (
            ["post", f"INC-{incident.id}", "--status", "identified", "--body", "Posted from a terminal."],
            ["export", str(tmp_path / "site")],
        ):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "statuspage", *args, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await process.communicate()
            assert process.returncode == 0, err.decode()
        [mail] = await mails(smtp_server, ALL, 1)
        assert "Posted from a terminal." in mail.part("plain")
        page = (tmp_path / "site" / "index.html").read_text()
        assert 'action="https://status.example.com/status/subscribe"' in page
