"""A whole incident driven as Slack drives it: signed requests in, Web API calls out to the stand-in."""

from __future__ import annotations

from bot.domain import EventKind, Incident
from bot.oncall.schedules import on_call
from bot.services.setup import SETUP
from bot.standin import View, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, ANNOUNCEMENTS, BOB, CAROL, DAVE, GENERAL, MANAGEMENT, BotUnderTest


async def latest_view(bot: BotUnderTest, user: str, callback_id: str) -> View:
    """The modal the bot opened for `user`; it opens it just after the ack, so wait a little."""

    def opened() -> View | None:
        views = [v for v in bot.workspace.open_views(user) if v.view.get("callback_id") == callback_id]
        return views[-1] if views else None

    return await eventually(opened)


def _pinned(bot: BotUnderTest, incident: Incident) -> bool:
    """The summary is posted and pinned (the set-up's steps run side by side)."""
    channel = bot.workspace.channels.get(incident.channel_id or "")
    return channel is not None and incident.summary_ts in channel.pins


async def declare(
    bot: BotUnderTest, title: str = "Checkout is down", user: str = ALICE, **values: object
) -> Incident:
    response = await bot.driver.slash(user, GENERAL, f"declare {title}")
    assert response.status == 200
    view = await latest_view(bot, user, "declare_incident")
    before = {i.id for i in await bot.runtime.incidents.list_open()}
    ack = await bot.driver.submit_view(
        user,
        view.id,
        {
            "severity": {"value": "SEV2"},
            "summary": {"value": "Customers cannot pay"},
            "service": {"value": "checkout"},
            **values,
        },
    )
    assert ack.json and ack.json["response_action"] == "update"

    async def declared() -> Incident | None:
        for incident in await bot.runtime.incidents.list_open():
            if (
                incident.title == title
                and incident.announcement_ts
                and _pinned(bot, incident)
                and incident.id not in before
                and await _set_up(bot, incident)
            ):
                return incident
        return None

    return await eventually(declared)


async def _set_up(bot: BotUnderTest, incident: Incident) -> bool:
    """The set-up has finished (its guard job is gone), the audiences' first notices included: a test that
    moves the clock next must not find the guard still due."""
    return not await bot.runtime.scheduler.store.pending(incident.id, SETUP)


def local_day(bot: BotUnderTest, incident: Incident) -> str:
    """Channel names use the date where the team is (Europe/Berlin in the example config)."""
    return incident.created_at.astimezone(bot.runtime.config.zone).strftime("%Y%m%d")


async def kinds(bot: BotUnderTest, incident_id: int) -> list[str]:
    return [e.kind.value for e in await bot.runtime.incidents.store.timeline(incident_id)]


async def test_full_incident_lifecycle(bot: BotUnderTest) -> None:
    ws, driver = bot.workspace, bot.driver

    incident = await declare(bot)
    channel = ws.channels[incident.channel_id or ""]
    assert channel.name == f"inc-{local_day(bot, incident)}-{incident.id}-checkout-is-down"
    assert {ALICE, CAROL, DAVE} <= channel.members  # reporter, global responder, checkout responder
    assert "SEV2" in channel.topic and "Investigating" in channel.topic
    summary = channel.find(incident.summary_ts or "")
    assert summary is not None and incident.summary_ts in channel.pins
    action_ids = {e["action_id"] for b in summary.blocks if b["type"] == "actions" for e in b["elements"]}
    assert action_ids == {
        "incident_post_update",
        "incident_change_status",
        "incident_change_severity",
        "incident_assign_role",
        "incident_transfer_command",
        "incident_resolve",
    }
    announcement = ws.message(ANNOUNCEMENTS, incident.announcement_ts or "")
    assert announcement is not None and f"<#{channel.id}>" in message_text(announcement)
    final_view = await eventually(
        lambda: next((v for v in ws.views.values() if f"<#{channel.id}>" in str(v.view.get("blocks"))), None)
    )
    assert final_view.user == ALICE
    assert incident.commander == ALICE

    # Hand the IC role to Bob with the slash command.
    response = await driver.slash(ALICE, channel.id, f"assign ic <@{BOB}|bob>")
    assert response.status == 200
    incident = await eventually(lambda: _with(bot, incident.id, lambda i: i.commander == BOB))
    handover = [
        e
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.ROLE_ASSIGNED
    ]
    assert handover[-1].data == {
        "role": "incident_commander",
        "user": BOB,
        "previous": ALICE,
        "handover": True,
    }
    # The pinned summary is edited in place.
    await eventually(lambda: f"<@{BOB}>" in message_text(channel.find(incident.summary_ts or "")))

    # Post an update to all three audiences through the button, with the preview step.
    await driver.click(ALICE, "incident_post_update", channel_id=channel.id, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "post_update")
    ack = await driver.submit_view(
        ALICE,
        view.id,
        {
            "status": {"value": "identified"},
            "known": {"value": "A bad deploy of payments-api broke card auth."},
            "doing": {"value": "Rolling back to the previous version."},
            "audiences": {"value": ["channel", "announcements", "management"]},
        },
    )
    assert ack.json and ack.json["response_action"] == "update", ack.body
    preview = str(ws.views[view.id].view["blocks"])
    assert "bad deploy of payments-api" in preview and "Identified" in preview
    assert ws.views[view.id].view["submit"]["text"] == "Post update"
    ack = await driver.submit_view(ALICE, view.id, None)
    assert ack.status == 200
    await eventually(lambda: ws.find_messages("Rolling back to the previous version"))
    # The three audiences are posted to one after the other: wait for the last (management).
    await eventually(lambda: [m for m in ws.messages(MANAGEMENT) if "bad deploy" in message_text(m)])
    incident = await bot.incident(incident.id)
    assert incident.status == "identified"
    in_channel = [m for m in ws.messages(channel.id) if "bad deploy" in message_text(m)]
    in_thread = [
        m for m in ws.messages(ANNOUNCEMENTS) if m.thread_ts == incident.announcement_ts and m.is_reply
    ]
    in_management = [m for m in ws.messages(MANAGEMENT) if "bad deploy" in message_text(m)]
    assert len(in_channel) == 1 and len(in_thread) == 1 and len(in_management) == 1
    assert in_thread[0].blocks[0]["text"]["text"].startswith("*Identified*")
    assert "<@" not in message_text(in_thread[0])  # status-page text names nobody
    await eventually(
        lambda: "Identified" in message_text(ws.message(ANNOUNCEMENTS, incident.announcement_ts or ""))
    )

    # Status change by command, a note, and a pinned message.
    await driver.slash(BOB, channel.id, "status monitoring")
    await eventually(lambda: _with(bot, incident.id, lambda i: i.status == "monitoring"))
    response = await driver.slash(BOB, channel.id, "note Error rate is back under 1%")
    assert "timeline" in response.body
    message = ws.add_message(channel.id, CAROL, "Rollback finished at 03:12, graphs are green")
    await driver.reaction_added(DAVE, channel.id, message.ts)
    await eventually(lambda: _has_event(bot, incident.id, EventKind.MESSAGE_PINNED))

    # Resolve with a summary.
    await driver.click(BOB, "incident_resolve", channel_id=channel.id, message_ts=incident.summary_ts)
    view = await latest_view(bot, BOB, "resolve_incident")
    await driver.submit_view(BOB, view.id, {"resolution": {"value": "Rolled back payments-api to v41."}})
    incident = await eventually(lambda: _with(bot, incident.id, lambda i: i.status == "resolved"))
    assert incident.resolved_at is not None and incident.resolution == "Rolled back payments-api to v41."
    await eventually(lambda: ws.find_messages("Rolled back payments-api to v41"))
    await eventually(
        lambda: "Resolved" in message_text(ws.message(ANNOUNCEMENTS, incident.announcement_ts or ""))
    )

    await eventually(lambda: _final_notices(bot, incident.id, 2))  # told after the resolution
    # Each "not e-mailed" is written just after its notice: wait for the final one's too.
    await eventually(lambda: _has_events(bot, incident.id, EventKind.EMAIL_FAILED, 3))
    everything = await bot.runtime.incidents.store.timeline(incident.id)
    pages = [e for e in everything if e.kind == EventKind.PAGE_SENT]
    primary = on_call(bot.runtime.config.oncall.schedules[0], incident.created_at)
    assert primary is not None
    assert [(p.data["user"], p.data["reason"]) for p in pages] == [
        (primary.user, "on call for Primary on-call, step 1 of the SEV2 policy")
    ]
    # Paging and the communication plan run in the background; the plan's events are checked apart.
    background = (EventKind.PAGE_SENT, EventKind.WELCOME_POSTED, *COMMUNICATION)
    timeline = [e for e in everything if e.kind not in background]
    assert [e.kind for e in everything].count(EventKind.WELCOME_POSTED) == 1
    told = [(e.data["audience"], e.data["notice"]) for e in everything if e.kind == EventKind.AUDIENCE_TOLD]
    assert sorted(told) == [
        ("engineering", "declared"),
        ("engineering", "final"),
        ("engineering", "update"),
        ("management", "declared"),
        ("management", "final"),
        ("management", "update"),
    ]
    not_mailed = [e for e in everything if e.kind == EventKind.EMAIL_FAILED]  # no INCIDENTBOT_SMTP_URL here
    assert [e.data["audience"] for e in not_mailed] == ["management"] * 3
    assert [e.kind for e in timeline] == [
        EventKind.DECLARED,
        EventKind.CHANNEL_CREATED,
        EventKind.ROLE_ASSIGNED,
        EventKind.STATUS_CHANGED,
        EventKind.UPDATE_POSTED,
        EventKind.STATUS_CHANGED,
        EventKind.NOTE_ADDED,
        EventKind.MESSAGE_PINNED,
        EventKind.RESOLVED,
    ]
    pinned = timeline[7]
    assert pinned.text == "Rollback finished at 03:12, graphs are green"
    assert (
        pinned.actor == DAVE
        and pinned.data["author"] == CAROL
        and pinned.data["permalink"].startswith("https://")
    )
    assert (
        timeline[-1].data["time_to_resolve_seconds"]
        == (incident.resolved_at - incident.created_at).total_seconds()
    )
    assert set(timeline[4].data["rendered"]) == {"channel", "announcements", "management"}
    assert ws.errors() == [], [(c.method, c.error, c.details) for c in ws.errors()]


COMMUNICATION = (EventKind.AUDIENCE_TOLD, EventKind.EMAIL_SENT, EventKind.EMAIL_FAILED)


async def _has_events(bot: BotUnderTest, incident_id: int, kind: EventKind, count: int) -> bool:
    return [e.kind for e in await bot.runtime.incidents.store.timeline(incident_id)].count(kind) == count


async def _final_notices(bot: BotUnderTest, incident_id: int, count: int) -> bool:
    timeline = await bot.runtime.incidents.store.timeline(incident_id)
    finals = [e for e in timeline if e.kind == EventKind.AUDIENCE_TOLD and e.data["notice"] == "final"]
    return len(finals) == count


async def _with(bot: BotUnderTest, incident_id: int, predicate) -> Incident | None:  # type: ignore[no-untyped-def]
    incident = await bot.incident(incident_id)
    return incident if predicate(incident) else None


async def _has_event(bot: BotUnderTest, incident_id: int, kind: EventKind) -> bool:
    return kind.value in await kinds(bot, incident_id)
