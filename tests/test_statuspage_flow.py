"""Public updates as people post them in Slack: the preview shows what the public will read, the Incident
Commander publishes directly or approves (edits, rejects) what others write, and only then does anything
appear on the page, in the JSON and in the feeds."""

from __future__ import annotations

from bot.domain import EventKind
from bot.standin import eventually
from bot.standin.state import message_text
from bot.statuspage.model import Maintenance, Publication
from tests.fixtures_bot import ALICE, BOB, CAROL, BotUnderTest, at_once
from tests.statuspage_helpers import (
    approval_request,
    events,
    everything_public,
    fetch,
    join,
    open_update_form,
    post_public,
    posted,
    preview_public,
    with_button,
)
from tests.test_lifecycle import declare, latest_view

HOOK = "Card payments fail for some customers"


async def test_the_commander_publishes_directly_and_the_channel_hears_of_it(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot, "Payments are failing")  # Alice declares: she is the IC
    view_id = await preview_public(bot, ALICE, incident)
    view = ws.views[view_id].view
    shown = str(view["blocks"])
    # The preview shows the public text from the Investigating template, with the service's component.
    assert "Status page (public)" in shown and "We are currently investigating" in shown
    assert "Checkout: Partial Outage" in shown  # checkout service -> checkout component, SEV2 -> partial
    assert "publish it directly" in shown
    answer = await bot.driver.submit_view(ALICE, view_id, {"public_title": {"value": "Checkout errors"}})
    assert answer.json and answer.json["response_action"] == "update"
    assert "Checkout errors" in str(ws.views[view_id].view["blocks"])  # the preview follows the edit
    await bot.driver.submit_view(ALICE, view_id, None)

    echo = await eventually(lambda: posted(bot, incident.channel_id, "Published on the status page"))
    assert "https://status.example.com/status/incidents/" in message_text(echo[0])
    page = (await fetch(bot.url, "/status")).text
    assert "Checkout errors" in page and "We are currently investigating" in page
    assert "Partial Outage" in page and "Payments are failing" not in page  # the internal title stays inside
    summary = (await fetch(bot.url, "/api/v2/summary.json")).json()
    assert [i["name"] for i in summary["incidents"]] == ["Checkout errors"]
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    checkout = next(c for c in summary["components"] if c["id"] == "checkout")
    assert checkout["status"] == "partial_outage"
    published = await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)
    assert len(published) == 1
    assert published[0].data["author"] == ALICE and published[0].data["approver"] == ALICE
    assert published[0].data["source"] == "slack" and "We are currently investigating" in published[0].text
    # The internal update went to the channel as usual, and to nowhere public.
    assert posted(bot, incident.channel_id, HOOK)
    assert HOOK not in await everything_public(bot.url, (incident.id,))


async def test_another_asks_and_nothing_is_public_until_the_commander_approves(
    bot: BotUnderTest,
) -> None:
    ws = bot.workspace
    incident = await declare(bot, "Payments are failing")
    join(bot, incident, BOB)
    await post_public(bot, BOB, incident, {"public_body": {"value": "Some card payments fail."}})
    request = await approval_request(bot, incident)
    assert f"<@{ALICE}>" in message_text(request) and "Some card payments fail." in message_text(request)
    assert "Some card payments fail." not in await everything_public(bot.url, (incident.id,))
    assert (await fetch(bot.url, f"/status/incidents/{incident.id}")).status == 404

    # The severity is raised while the request waits: the public impact is the one at approval.
    await bot.driver.slash(ALICE, incident.channel_id or "", "severity SEV1")
    await eventually(lambda: _severity(bot, incident.id, "SEV1"))
    # Carol holds no role: she cannot approve.
    await bot.driver.click(CAROL, "statuspage_approve", channel_id=request.channel, message_ts=request.ts)
    await eventually(lambda: _told(ws, "Only the Incident Commander"))
    # A double click of the commander publishes once; the slower click is told who was first.
    await at_once(
        2,
        lambda i: bot.driver.click(
            ALICE, "statuspage_approve", channel_id=request.channel, message_ts=request.ts
        ),
    )
    await eventually(lambda: _told(ws, f"already published by <@{ALICE}>"))
    await eventually(lambda: _told(ws, "Sent to <@U0ALICE000> for approval"))
    page = await eventually(lambda: _page_with(bot, "Some card payments fail."))
    assert "Some card payments fail." in page
    published = await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)
    assert len(published) == 1
    assert published[0].data["author"] == BOB and published[0].data["approver"] == ALICE
    assert (await fetch(bot.url, "/api/v2/summary.json")).json()["incidents"][0]["impact"] == "critical"
    assert len(await events(bot, incident, EventKind.STATUS_PAGE_REQUESTED)) == 1
    # The request's buttons are spent; the channel is told who wrote and who approved.
    await eventually(lambda: with_button(bot, incident.channel_id or "", "statuspage_approve") is None)
    echo = await eventually(lambda: posted(bot, incident.channel_id, "Published on the status page"))
    assert f"by <@{BOB}>" in message_text(echo[0]) and f"approved by <@{ALICE}>" in message_text(echo[0])
    # The post-mortem's timeline tells the story: asked by Bob, approved by Alice, with the text.
    postmortem = await bot.runtime.postmortems.markdown(incident.id)
    assert "Status page update asked for approval (Investigating)" in postmortem
    assert "Published on the status page (Investigating)" in postmortem
    assert "Public text: Some card payments fail." in postmortem and "Approved by " in postmortem


async def test_a_rejected_update_never_appears(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Payments are failing")
    join(bot, incident, BOB)
    await post_public(bot, BOB, incident, {"public_body": {"value": "We broke everything, sorry."}})
    request = await approval_request(bot, incident)
    await bot.driver.click(ALICE, "statuspage_reject", channel_id=request.channel, message_ts=request.ts)
    await eventually(lambda: posted(bot, incident.channel_id, "rejected your status page update"))
    assert len(await events(bot, incident, EventKind.STATUS_PAGE_REJECTED)) == 1
    assert "We broke everything" not in await everything_public(bot.url, (incident.id,))
    assert (await fetch(bot.url, "/api/v2/incidents.json")).json()["incidents"] == []
    # The request's buttons are spent: it can be approved no more.
    await eventually(lambda: with_button(bot, incident.channel_id or "", "statuspage_approve") is None)
    assert not await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)


async def test_the_commander_edits_before_publishing(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot, "Payments are failing")
    join(bot, incident, BOB)
    await post_public(bot, BOB, incident, {"public_body": {"value": "Stripe is down again!!"}})
    request = await approval_request(bot, incident)
    await bot.driver.click(ALICE, "statuspage_edit", channel_id=request.channel, message_ts=request.ts)
    form = await latest_view(bot, ALICE, "statuspage_edit")
    assert "Stripe is down again!!" in str(form.view["blocks"])
    await bot.driver.submit_view(
        ALICE,
        form.id,
        {
            "public_body": {"value": "A payment provider has problems; some card payments fail."},
            "public_component_payments": {"value": "degraded_performance"},
        },
    )
    page = await eventually(lambda: _page_with(bot, "A payment provider has problems"))
    assert "Stripe" not in page
    [published] = await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)
    assert published.data["edited"] is True and published.data["author"] == BOB
    assert published.data["components"] == {"checkout": "partial_outage", "payments": "degraded_performance"}
    assert ws.views[form.id]  # the form was answered with an ack, no errors


async def test_a_retried_submission_publishes_once(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Payments are failing")
    view_id = await preview_public(bot, ALICE, incident)
    answer = await bot.driver.submit_view(ALICE, view_id, None)
    await bot.driver.redeliver(answer, 1)
    await bot.driver.redeliver(answer, 2)
    await eventually(lambda: posted(bot, incident.channel_id, "Published on the status page"))
    assert len(await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)) == 1
    summary = (await fetch(bot.url, "/api/v2/incidents.json")).json()
    assert len(summary["incidents"][0]["incident_updates"]) == 1


def _told(ws: object, text: str) -> bool:
    found = [message_text(m) for messages in ws.ephemerals.values() for m in messages]  # type: ignore[attr-defined]
    return any(text in t for t in found)


async def _page_with(bot: BotUnderTest, text: str) -> str | None:
    page = (await fetch(bot.url, "/status")).text
    return page if text in page else None


class Recorder:
    """A listener as a push to Atlassian's Statuspage would be: it is told after each commit."""

    def __init__(self, fail: bool = False) -> None:
        self.published: list[Publication] = []
        self.maintenances: list[Maintenance] = []
        self.fail = fail

    async def on_published(self, publication: Publication) -> None:
        self.published.append(publication)
        if self.fail:
            raise ConnectionError("api.statuspage.io unreachable")

    async def on_maintenance(self, maintenance: Maintenance) -> None:
        self.maintenances.append(maintenance)


async def test_listeners_hear_each_publication_after_it_is_committed(bot: BotUnderTest) -> None:
    recorder, failing = Recorder(), Recorder(fail=True)
    bot.runtime.statuspage.add_listener(recorder)
    bot.runtime.statuspage.add_listener(failing)
    incident = await declare(bot, "Payments are failing")
    join(bot, incident, BOB)
    await post_public(bot, BOB, incident, {"public_body": {"value": "Some card payments fail."}})
    request = await approval_request(bot, incident)
    assert recorder.published == []  # asked for is not published
    await bot.driver.click(ALICE, "statuspage_approve", channel_id=request.channel, message_ts=request.ts)
    [publication] = await eventually(lambda: recorder.published)
    assert publication.update.body == "Some card payments fail." and publication.update.approver == ALICE
    assert publication.url == f"https://status.example.com/status/incidents/{incident.id}"
    assert [(a.code, a.old_status, a.new_status) for a in publication.affected] == [
        ("checkout", "operational", "partial_outage")
    ]
    # A failing listener is reported in the channel; the update stays public.
    problem = await eventually(lambda: posted(bot, incident.channel_id, "Recorder failed: ConnectionError"))
    assert "public on the status page all the same" in message_text(problem[0])
    assert "Some card payments fail." in (await fetch(bot.url, "/status")).text


async def test_the_public_text_follows_the_stage_until_someone_writes_it(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot, "Payments are failing")
    view_id = await preview_public(bot, ALICE, incident)
    await bot.driver.submit_view(ALICE, view_id, {"public_status": {"value": "identified"}})
    shown = str(ws.views[view_id].view["blocks"])
    assert "The issue has been identified and a fix is being implemented" in shown
    assert "We are currently investigating" not in shown
    await bot.driver.submit_view(ALICE, view_id, {"public_body": {"value": "Our words now."}})
    await bot.driver.submit_view(ALICE, view_id, {"public_status": {"value": "monitoring"}})
    assert "Our words now." in str(ws.views[view_id].view["blocks"])  # what someone wrote stays


async def _severity(bot: BotUnderTest, incident_id: int, severity: str) -> bool:
    return (await bot.incident(incident_id)).severity == severity


async def test_a_status_page_only_update_needs_no_internal_text_but_an_internal_one_does(
    bot: BotUnderTest,
) -> None:
    ws = bot.workspace
    incident = await declare(bot, "Payments are failing")
    view_id = await open_update_form(bot, ALICE, incident)
    answer = await bot.driver.submit_view(ALICE, view_id, {"audiences": {"value": ["channel"]}})
    assert answer.json == {
        "response_action": "errors",
        "errors": {"known": "Say what we know, even if it is little."},
    }
    answer = await bot.driver.submit_view(ALICE, view_id, {"audiences": {"value": ["status_page"]}})
    assert answer.json and answer.json["response_action"] == "update", answer.body
    assert "We are currently investigating" in str(ws.views[view_id].view["blocks"])
    await bot.driver.submit_view(ALICE, view_id, None)
    await eventually(lambda: posted(bot, incident.channel_id, "Published on the status page"))
    assert "We are currently investigating" in (await fetch(bot.url, "/status")).text
