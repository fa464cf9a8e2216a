"""Audiences told by e-mail (issue 17, first slice), driven as Slack drives the bot: signed requests in,
a real SMTP server (aiosmtpd on 127.0.0.1) receiving what the outbox sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from bot.communication.outbox import FAILED, SENT, Mail
from bot.domain import EventKind, Incident, TimelineEvent, UpdateDraft
from bot.oncall.settings import OnCallConfig
from bot.services.communication import MAIL_SEND, Communication
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, MANAGEMENT, BotUnderTest, Clock, bot_settings, running_bot
from tests.fixtures_smtp import MAIL_FROM, Authority, SmtpServer
from tests.test_lifecycle import declare, latest_view

CTO, VP = "cto@example.com", "vp-eng@example.com"


@asynccontextmanager
async def mailing_bot(
    database_url: str, standin: RunningStandin, app_config: Any, server: SmtpServer | None, **settings: Any
) -> AsyncIterator[BotUnderTest]:
    values = {"smtp_url": server.url(), "mail_from": MAIL_FROM} if server else {}
    configured = bot_settings(database_url, standin, **{**values, **settings})
    async with running_bot(configured, app_config, standin.workspace) as bot:
        yield bot


@asynccontextmanager
async def clocked_bot(
    database_url: str, standin: RunningStandin, app_config: Any, server: SmtpServer, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    """A bot whose timers fire when the test says (`scheduler.run_due`), without paging policies."""
    quiet = app_config.model_copy(update={"oncall": OnCallConfig()})
    settings = bot_settings(database_url, standin, smtp_url=server.url(), mail_from=MAIL_FROM)
    async with running_bot(settings, quiet, standin.workspace, clock) as bot:
        yield bot


def communication(bot: BotUnderTest) -> Communication:
    return next(h for h in bot.runtime.incidents.hooks if isinstance(h, Communication))


async def events(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[TimelineEvent]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]


async def thread(bot: BotUnderTest, incident: Incident, audience: str = "management") -> list[Mail]:
    return await communication(bot).outbox.thread(incident.id, audience)


async def post_update(bot: BotUnderTest, incident: Incident, known: str, audiences: list[str]) -> None:
    channel = incident.channel_id or ""
    await bot.driver.click(ALICE, "incident_post_update", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "post_update")
    values = {
        "status": {"value": "identified"},
        "known": {"value": known},
        "doing": {"value": "Rolling back the deploy."},
        "audiences": {"value": audiences},
    }
    ack = await bot.driver.submit_view(ALICE, view.id, values)
    assert ack.json and ack.json["response_action"] == "update", ack.body
    assert (await bot.driver.submit_view(ALICE, view.id, None)).status == 200


async def resolve(bot: BotUnderTest, incident: Incident, resolution: str) -> None:
    channel = incident.channel_id or ""
    await bot.driver.click(ALICE, "incident_resolve", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "resolve_incident")
    await bot.driver.submit_view(ALICE, view.id, {"resolution": {"value": resolution}})


def channel_says(bot: BotUnderTest, incident: Incident, text: str) -> bool:
    return any(text in message_text(m) for m in bot.workspace.messages(incident.channel_id or ""))


async def test_sev1_declare_mails_management_at_once_and_threads_the_updates(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with mailing_bot(database_url, standin, app_config, smtp_server) as bot:
        title = "Checkout <b>down</b> & payments failing"
        incident = await declare(bot, title, severity={"value": "SEV1"})

        [first] = await eventually(lambda: smtp_server.handler.to(CTO), timeout=10)
        assert sorted(first.recipients) == [CTO, VP] and first.sender == MAIL_FROM
        message = first.message
        assert message.is_multipart() and message.get_content_type() == "multipart/alternative"
        assert message["Subject"].startswith(f"[SEV1] {incident.reference}: {title}")
        assert title in first.part("plain") and "Customers cannot pay" in first.part("plain")
        html = first.part("html")
        assert "Checkout &lt;b&gt;down&lt;/b&gt; &amp; payments failing" in html and "<b>down" not in html
        assert message["In-Reply-To"] is None and message["Message-ID"].endswith("@example.com>")

        # The management channel got the audience's notice; engineering was told by the announcement.
        await eventually(
            lambda: any(title.split()[0] in message_text(m) for m in bot.workspace.messages(MANAGEMENT))
        )
        told = await eventually(lambda: _told(bot, incident, 2))
        assert {(e.data["audience"], e.data["first"], e.data["notice"]) for e in told} == {
            ("engineering", True, "declared"),
            ("management", True, "declared"),
        }
        via = {e.data["audience"]: e.data["via"] for e in told}
        assert via == {"engineering": ["slack"], "management": ["slack", "email"]}
        await eventually(lambda: _sent(bot, incident, 1))

        await post_update(
            bot, incident, "A bad deploy of payments-api broke card auth.", ["channel", "management"]
        )
        second = (await eventually(lambda: _two(smtp_server.handler.to(CTO)), timeout=10))[1]
        assert second.message["In-Reply-To"] == first.message_id
        assert second.message["References"] == first.message_id
        assert "A bad deploy of payments-api broke card auth." in second.part("plain")
        assert "Status update" in second.message["Subject"]

        await resolve(bot, incident, "Rolled back payments-api to v41.")
        third = (await eventually(lambda: _three(smtp_server.handler.to(CTO)), timeout=10))[2]
        assert third.message["In-Reply-To"] == second.message_id
        assert third.message["References"] == f"{first.message_id} {second.message_id}"
        assert (
            "Rolled back payments-api to v41." in third.part("plain")
            and "Resolved" in third.message["Subject"]
        )
        await eventually(lambda: _sent(bot, incident, 3))
        mails = await thread(bot, incident)
        assert [m.notice for m in mails] == ["declared", "update", "final"]
        assert {m.status for m in mails} == {SENT}
        notices = [(e.data["audience"], e.data["notice"]) for e in await _told(bot, incident, 5)]
        assert ("engineering", "final") in notices and ("management", "final") in notices


async def _told(bot: BotUnderTest, incident: Incident, at_least: int) -> list[TimelineEvent] | None:
    found = await events(bot, incident, EventKind.AUDIENCE_TOLD)
    return found if len(found) >= at_least else None


async def _sent(bot: BotUnderTest, incident: Incident, count: int) -> list[TimelineEvent] | None:
    found = await events(bot, incident, EventKind.EMAIL_SENT)
    return found if len(found) == count else None


def _two(found: list[Any]) -> list[Any] | None:
    return found if len(found) >= 2 else None


def _three(found: list[Any]) -> list[Any] | None:
    return found if len(found) >= 3 else None


async def test_starttls_and_auth(
    database_url: str,
    standin: RunningStandin,
    app_config: Any,
    tls_smtp_server: SmtpServer,
    mail_authority: Authority,
) -> None:
    """smtp://user:pass@host → STARTTLS (required by the server) before AUTH; the CA comes from
    INCIDENTBOT_SMTP_CA_FILE."""
    async with mailing_bot(
        database_url,
        standin,
        app_config,
        None,
        smtp_url=tls_smtp_server.url(credentials=True),
        mail_from=MAIL_FROM,
        smtp_ca_file=mail_authority.ca_file,
    ) as bot:
        incident = await declare(bot, "Login broken", severity={"value": "SEV1"})
        [mail] = await eventually(lambda: tls_smtp_server.handler.to(CTO), timeout=10)
        assert mail.user == "incidentbot"
        assert incident.reference in mail.message["Subject"]


async def test_a_relay_down_for_a_while_gets_the_mail_later_once(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    smtp_server.stop()
    async with mailing_bot(database_url, standin, app_config, smtp_server) as bot:
        incident = await declare(bot, "Search is slow", severity={"value": "SEV2"})
        # The incident flow went on: the channel and the announcement exist (declare waited for them).
        waiting = await eventually(lambda: _retried(bot, incident), timeout=10)
        assert waiting.status == "pending" and "Connect call failed" in (waiting.last_error or "")
        await post_update(bot, incident, "The index rebuild is at 40%.", ["channel", "management"])
        await eventually(lambda: _queued(bot, incident, 2))
        smtp_server.start()
        first, second = await eventually(lambda: _two(smtp_server.handler.to(CTO)), timeout=15)
        assert first.message_id == waiting.message_id  # the thread arrives in order, threaded
        assert second.message["In-Reply-To"] == first.message_id
        await eventually(lambda: _sent(bot, incident, 2))
        await eventually(lambda: _no_mail_timers(bot))
        assert len(smtp_server.received) == 2
        declared, update = await thread(bot, incident)
        assert declared.status == update.status == SENT and declared.attempts >= 3


async def _retried(bot: BotUnderTest, incident: Incident) -> Mail | None:
    mails = await thread(bot, incident)
    return mails[0] if mails and mails[0].attempts >= 2 else None


async def _queued(bot: BotUnderTest, incident: Incident, count: int) -> bool:
    return len(await thread(bot, incident)) == count


async def _no_mail_timers(bot: BotUnderTest) -> bool:
    return not await bot.runtime.scheduler.store.pending(kind=MAIL_SEND)


async def test_severity_raised_into_the_matrix_tells_management_then(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with mailing_bot(database_url, standin, app_config, smtp_server) as bot:
        incident = await declare(bot, "Typo on the pricing page", severity={"value": "SEV4"})
        [told] = await eventually(lambda: _told(bot, incident, 1))
        assert told.data["audience"] == "engineering"  # SEV4 is not in management's matrix
        assert await thread(bot, incident) == []

        response = await bot.driver.slash(ALICE, incident.channel_id or "", "severity SEV1")
        assert response.status == 200
        [mail] = await eventually(lambda: smtp_server.handler.to(CTO), timeout=10)
        assert "Severity raised" in mail.message["Subject"] and "[SEV1]" in mail.message["Subject"]
        assert "Raised from:         SEV4" in mail.part("plain")
        management = [
            e
            for e in await events(bot, incident, EventKind.AUDIENCE_TOLD)
            if e.data["audience"] == "management"
        ]
        assert [(e.data["notice"], e.data["first"]) for e in management] == [("raised", True)]


async def test_a_private_incident_reaches_management_without_its_title_or_details(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with mailing_bot(database_url, standin, app_config, smtp_server) as bot:
        title = "Acquisition of Initech leaked"
        incident = await declare(bot, title, severity={"value": "SEV1"}, private={"value": ["private"]})
        [mail] = await eventually(lambda: smtp_server.handler.to(CTO), timeout=10)
        everything = f"{mail.message['Subject']} {mail.part('plain')} {mail.part('html')}"
        assert "Initech" not in everything and "Customers cannot pay" not in everything
        assert f"[SEV1] {incident.reference}: Private incident" in mail.message["Subject"]
        assert "private incident" in mail.part("plain").lower()
        notice = await eventually(
            lambda: [m for m in bot.workspace.messages(MANAGEMENT) if incident.reference in message_text(m)]
        )
        assert "Initech" not in message_text(notice[0])

        await post_update(
            bot, incident, "The Initech deal memo was posted publicly.", ["channel", "management"]
        )
        second = (await eventually(lambda: _two(smtp_server.handler.to(CTO)), timeout=10))[1]
        assert "Initech" not in f"{second.message['Subject']} {second.part('plain')} {second.part('html')}"
        # The update's Slack post to management is redacted too; the incident channel has it in full.
        assert all("Initech" not in message_text(m) for m in bot.workspace.messages(MANAGEMENT))
        assert channel_says(bot, incident, "The Initech deal memo was posted publicly.")


async def test_a_permanent_refusal_is_shown_in_the_channel_and_on_the_timeline(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.refuse = {CTO: "550 5.1.1 no such user", VP: "550 5.1.1 no such user"}
    async with mailing_bot(database_url, standin, app_config, smtp_server) as bot:
        incident = await declare(bot, "Invoices not sent", severity={"value": "SEV1"})
        await eventually(lambda: channel_says(bot, incident, "The e-mail to *management*"), timeout=10)
        assert channel_says(bot, incident, "550") and channel_says(bot, incident, "tell them another way")
        [failed] = await events(bot, incident, EventKind.EMAIL_FAILED)
        assert failed.data["audience"] == "management" and sorted(failed.data["refused"]) == [CTO, VP]
        [mail] = await thread(bot, incident)
        assert mail.status == FAILED and smtp_server.received == []


async def test_one_refused_recipient_does_not_stop_the_others(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.refuse = {VP: "550 5.1.1 mailbox unavailable"}
    async with mailing_bot(database_url, standin, app_config, smtp_server) as bot:
        incident = await declare(bot, "Exports stuck", severity={"value": "SEV1"})
        [mail] = await eventually(lambda: smtp_server.handler.to(CTO), timeout=10)
        assert mail.recipients == [CTO]
        await eventually(lambda: channel_says(bot, incident, f"the server refused {VP}"), timeout=10)
        [sent] = await eventually(lambda: _sent(bot, incident, 1))
        assert sent.data["refused"] == [VP]


async def test_without_smtp_the_channel_says_what_was_not_sent(
    database_url: str, standin: RunningStandin, app_config: Any
) -> None:
    async with mailing_bot(database_url, standin, app_config, None) as bot:
        incident = await declare(bot, "Queue backlog", severity={"value": "SEV1"})
        await eventually(lambda: channel_says(bot, incident, "Not e-mailed to *management*"))
        assert channel_says(bot, incident, "INCIDENTBOT_SMTP_URL is not set")
        [failed] = await events(bot, incident, EventKind.EMAIL_FAILED)
        assert failed.data["recipients"] == [CTO, VP]
        assert await thread(bot, incident) == []
        # Slack still told management.
        await eventually(
            lambda: any(incident.reference in message_text(m) for m in bot.workspace.messages(MANAGEMENT))
        )


async def test_a_crash_between_send_and_record_resends_once_with_the_same_message_id(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    """The one honest exception to "never twice": the server took the mail, the bot died before writing
    so. The timer fires again and the mail goes again, once, recognisably the same (its Message-ID)."""
    clock = Clock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    async with clocked_bot(database_url, standin, app_config, smtp_server, clock) as bot:
        incident = await declare(bot, "Reports empty", severity={"value": "SEV1"})
        await eventually(lambda: _queued(bot, incident, 1))
        outbox = communication(bot).outbox
        real_finish = outbox.finish

        async def crash(*args: Any, **kwargs: Any) -> bool:
            outbox.finish = real_finish  # type: ignore[method-assign]
            raise ConnectionResetError("the process died here")

        outbox.finish = crash  # type: ignore[method-assign]
        await bot.runtime.scheduler.run_due()
        assert len(smtp_server.handler.to(CTO)) == 1
        [mail] = await thread(bot, incident)
        assert mail.status == "pending"  # the record never said sent

        clock.advance(minutes=1)
        await bot.runtime.scheduler.run_due()
        first, again = smtp_server.handler.to(CTO)
        assert first.message_id == again.message_id == mail.message_id
        [mail] = await thread(bot, incident)
        assert mail.status == SENT

        clock.advance(minutes=10)
        await bot.runtime.scheduler.run_due()  # the plan's reminders may fire; no mail is sent again
        assert await bot.runtime.scheduler.store.pending(incident.id, MAIL_SEND) == []
        assert len(smtp_server.handler.to(CTO)) == 2


async def test_an_update_committed_just_before_a_crash_still_reaches_management(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    """The guard timer commits with the update itself: if the process dies before the hook after the
    commit tells the audiences, the guard does it a minute later, threaded like any other notice."""
    clock = Clock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    async with clocked_bot(database_url, standin, app_config, smtp_server, clock) as bot:
        incident = await declare(bot, "Webhooks delayed", severity={"value": "SEV1"})
        await eventually(lambda: _queued(bot, incident, 1))
        await bot.runtime.scheduler.run_due()
        [first] = smtp_server.handler.to(CTO)

        async def died(incident: Incident) -> None:  # the process is gone before the hook runs
            return None

        communication(bot).update_posted = died  # type: ignore[method-assign]
        draft = UpdateDraft("identified", "A queue consumer is stuck.", "Restarting it.", 30, ("management",))
        await bot.runtime.incidents.post_update(incident.id, draft, ALICE)
        assert await thread(bot, incident) != [] and len(await thread(bot, incident)) == 1
        clock.advance(seconds=30)
        assert await bot.runtime.scheduler.run_due() == 0  # the guard waits a minute

        clock.advance(minutes=1)
        await bot.runtime.scheduler.run_due()
        first_again, second = smtp_server.handler.to(CTO)
        assert first_again.message_id == first.message_id
        assert second.message["In-Reply-To"] == first.message_id
        assert "A queue consumer is stuck." in second.part("plain")
        assert [m.notice for m in await thread(bot, incident)] == ["declared", "update"]
