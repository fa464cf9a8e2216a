"""`/incident catchup`: the facts a late joiner needs, read off the record, to them or in the channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import channel_messages as ui
from bot.config import AppConfig
from bot.domain import EventKind, Incident, TimelineEvent, UpdateDraft
from bot.postmortem.action_text import ActionRequest
from bot.standin import eventually
from bot.standin.blockkit import message_error
from bot.standin.state import Message
from tests.fixtures_bot import ALICE, BOB, CAROL, BotUnderTest
from tests.test_lifecycle import declare


def _texts(message: Message) -> list[str]:
    """Each block's text (a section's fields joined), in order."""
    found = []
    for block in message.blocks or []:
        if "text" in block:
            found.append(block["text"]["text"])
        elif "fields" in block:
            found.append("\n".join(f["text"] for f in block["fields"]))
        elif "elements" in block:
            found.append(" ".join(e.get("text", "") for e in block["elements"]))
    return found


def _block(message: Message, starts: str) -> str:
    return next(text for text in _texts(message) if text.startswith(starts))


async def test_catchup_tells_state_update_roles_actions_due_and_latest(bot: BotUnderTest) -> None:
    ws, driver = bot.workspace, bot.driver
    incident = await declare(bot, severity={"value": "SEV1"})
    channel = incident.channel_id or ""
    service = bot.runtime.incidents
    await service.assign_role(incident.id, "scribe", BOB, ALICE)
    draft = UpdateDraft("identified", "A bad deploy of payments-api", "Rolling back", 20, ("channel",))
    await service.post_update(incident.id, draft, ALICE)
    item = await bot.runtime.actions.add(incident.id, ActionRequest("Add a canary", BOB, None), ALICE)
    await service.add_note(incident.id, "Rollback started", ALICE)

    await driver.slash(CAROL, channel, "catchup")
    shown = await eventually(lambda: (ws.ephemerals.get((channel, CAROL)) or [None])[-1])
    assert message_error(shown.text, shown.blocks) is None
    header = shown.blocks[0]
    assert header["type"] == "header"
    assert header["text"]["text"] == f":eyes: Catch-up: {incident.reference} · Checkout is down"
    state = _texts(shown)[1]
    assert state.startswith("*SEV1 · Critical* · *Identified* · open for ") and "service Checkout" in state
    assert _block(shown, "*Impact*") == "*Impact*\nCustomers cannot pay"
    update = _block(shown, "*Last status update*")
    assert f"by <@{ALICE}>" in update and "A bad deploy of payments-api" in update
    assert "_Doing:_ Rolling back" in update
    roles = next(b for b in shown.blocks if "fields" in b)
    fields = [f["text"] for f in roles["fields"]]
    assert f"*Incident Commander*\n<@{ALICE}>" in fields and f"*Scribe*\n<@{BOB}>" in fields
    assert any(f.startswith("*Unassigned*\nDeputy, Subject Matter Expert") for f in fields)
    actions = _block(shown, "*Open action items")
    assert actions.startswith("*Open action items (1)*") and f"#{item.id} Add a canary — <@{BOB}>" in actions
    due = _block(shown, "*What is due*").splitlines()
    assert (
        due[1].startswith("• Next status update due <!date^") and len(due) >= 3
    )  # + the audiences' deadlines
    latest = _block(shown, "*Latest on the timeline*")
    assert latest
    lines = "\n".join(_texts(shown)[_texts(shown).index(latest) + 1 :])
    assert "Note Added: Rollback started" in lines and "Status update: A bad deploy" in lines
    assert "Scribe → <@U0BOB00000>" in lines
    assert not [m for m in ws.messages(channel) if "Catch-up" in str(m.blocks)]  # ephemeral only

    await driver.slash(CAROL, channel, "catchup post")

    def posted() -> Any:
        return next((m for m in ws.messages(channel) if "Catch-up" in str(m.blocks)), None)

    message = await eventually(posted)
    assert message.blocks[0]["text"]["text"].startswith(":eyes: Catch-up:")
    assert f"*Scribe*\n<@{BOB}>" in "\n".join(_texts(message))


async def test_catchup_of_a_fresh_incident_says_what_is_not_there_yet(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot)
    channel = incident.channel_id or ""
    await bot.driver.slash(ALICE, channel, "catchup")
    shown = await eventually(lambda: (ws.ephemerals.get((channel, ALICE)) or [None])[-1])
    assert _block(shown, "*Last status update*") == "*Last status update*\n_none posted yet_"
    assert _block(shown, "*Open action items") == "*Open action items*\n_none_"
    assert "Declared" in "\n".join(_texts(shown))


def test_a_long_incident_still_fits_slack_limits(app_config: AppConfig) -> None:
    """Huge texts and many roles and actions: every block within Slack's limits, the rest cut visibly."""
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    roles = {"incident_commander": ALICE, **{f"gone_{i}": BOB for i in range(30)}}
    incident = Incident(
        7,
        "T" * 150,
        "SEV1",
        "identified",
        "<!channel> " + "x" * 5000,
        "checkout",
        False,
        ALICE,
        now,
        roles=roles,
        next_update_due=now,
    )
    event = TimelineEvent(1, 7, EventKind.NOTE_ADDED, BOB, now, "n" * 5000)
    requested = TimelineEvent(
        2, 7, EventKind.COMMAND_TRANSFER_REQUESTED, ALICE, now, "", {"from": ALICE, "to": BOB}
    )
    update = TimelineEvent(
        3, 7, EventKind.UPDATE_POSTED, ALICE, now, "u", {"known": "k" * 5000, "doing": "d" * 5000}
    )
    facts = ui.Catchup(
        incident,
        now,
        update,
        [event] * 20 + [requested],
        [ui.OpenAction(n, "a" * 3000, BOB, None) for n in range(40)],
        ["line " * 1000],
    )
    message = ui.catchup(facts, app_config)
    assert message_error(message.text, message.blocks) is None
    text = "\n".join(_texts(Message("1.0", "C", "U", message.text, message.blocks)))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert f"Asked <@{BOB}> to take command from <@{ALICE}>" in text
    assert "…and 30 more (`/incident actions`)" in text and "*overdue*" in text
