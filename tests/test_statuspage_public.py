"""What the public can read, and what it never can: private incidents and internal updates stay out of
every route, feed and export; people's text is escaped; the JSON has Statuspage's shapes and enums; the
feeds parse; each document is rendered once per change and revalidated with its ETag."""

from __future__ import annotations

import asyncio
from pathlib import Path

import feedparser
import pytest

from bot.domain import DomainError, EventKind
from bot.standin import eventually
from bot.statuspage.model import PublicDraft
from bot.statuspage.site import export
from bot.statuspage.store import StatusPageStore
from bot.store import db
from tests.fixtures_bot import ALICE, BotUnderTest
from tests.processes import refusing_port
from tests.statuspage_helpers import (
    PUBLIC_PATHS,
    events,
    everything_public,
    fetch,
    open_update_form,
    post_public,
    posted,
)
from tests.test_lifecycle import declare

PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {
    "id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
    "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
INCIDENT_KEYS = {
    "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
    "shortlink", "started_at", "page_id", "incident_updates", "components",
}  # fmt: skip
UPDATE_KEYS = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components",
    "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
IMPACTS = {"none", "minor", "major", "critical"}
SECRET = "Root cause: the intern dropped the prod table"


async def test_private_incidents_and_internal_updates_never_reach_the_public(
    bot: BotUnderTest, tmp_path: Path
) -> None:
    private = await declare(bot, "Secret breach", private={"value": ["private"]})
    # The form offers no status page for a private incident, and refuses one sent anyway.
    view_id = await open_update_form(bot, ALICE, private)
    blocks = bot.workspace.views[view_id].view["blocks"]
    audiences = next(b for b in blocks if b.get("block_id") == "audiences")
    options = [o["value"] for o in audiences["element"]["options"]]
    assert "status_page" not in options
    bot.workspace.views[view_id].view["blocks"][-1]["element"]["options"].append(
        {"text": {"type": "plain_text", "text": "Status page"}, "value": "status_page"}
    )
    refused = await bot.driver.submit_view(
        ALICE, view_id, {"known": {"value": SECRET}, "audiences": {"value": ["status_page"]}}
    )
    assert refused.json and "private incident" in refused.json["errors"]["audiences"]
    with pytest.raises(DomainError, match="private incident"):
        await bot.runtime.statuspage.post_trusted(
            private.id, PublicDraft("identified", "x", "y"), "ops", "k1"
        )

    # A public incident gets an internal update with the secret and a public one without it.
    public = await declare(bot, "Checkout is down")
    await post_public(bot, ALICE, public, {"public_body": {"value": "Checkout fails for some customers."}},
                      known={"value": SECRET})  # fmt: skip
    await eventually(lambda: posted(bot, public.channel_id, SECRET))
    await eventually(lambda: posted(bot, public.channel_id, "Published on the status page"))
    seen = await everything_public(bot.url, (public.id, private.id))
    assert "Checkout fails for some customers." in seen
    assert "Checkout is down" in seen  # the public title starts as the incident's
    for hidden in (SECRET, "Secret breach"):
        assert hidden not in seen
    assert (await fetch(bot.url, f"/status/incidents/{private.id}")).status == 404
    assert not await events(bot, private, EventKind.STATUS_PAGE_PUBLISHED)

    snapshot = await bot.runtime.statuspage.site.snapshot()
    site = tmp_path / "site"
    export(snapshot, site)
    exported = "\n".join(p.read_text() for p in site.rglob("*") if p.is_file())
    assert "Checkout fails for some customers." in exported and SECRET not in exported
    assert "Secret breach" not in exported


async def test_what_people_type_is_shown_never_run(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Checkout is down")
    title, body = '<script>alert("t")</script> & more', "<img src=x onerror=alert(1)> Payments fail"
    await post_public(
        bot, ALICE, incident, {"public_title": {"value": title}, "public_body": {"value": body}}
    )
    await eventually(lambda: posted(bot, incident.channel_id, "Published on the status page"))
    for path in ("/status", f"/status/incidents/{incident.id}"):
        page = (await fetch(bot.url, path)).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; &amp; more" in page
        assert "&lt;img src=x onerror=alert(1)&gt; Payments fail" in page
    summary = (await fetch(bot.url, "/api/v2/summary.json")).json()
    assert summary["incidents"][0]["name"] == title  # JSON carries the text as it is
    feed = feedparser.parse((await fetch(bot.url, "/history.rss")).body)
    assert feed.entries[0].title == f"{title} - Investigating"


async def test_the_json_has_statuspage_shapes_and_enums(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Checkout is down")
    await post_public(bot, ALICE, incident, {"public_component_api": {"value": "degraded_performance"}})
    await eventually(lambda: posted(bot, incident.channel_id, "Published on the status page"))
    await bot.runtime.statuspage.post_trusted(
        incident.id, PublicDraft("identified", "Checkout errors", "Found it.", {"checkout": "major_outage"}),
        "ops", "cli:1",
    )  # fmt: skip
    summary = (await fetch(bot.url, "/api/v2/summary.json")).json()
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert set(summary["page"]) == PAGE_KEYS and summary["page"]["url"] == "https://status.example.com"
    assert summary["page"]["time_zone"] == "Europe/Berlin"
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    for component in summary["components"]:
        assert set(component) >= COMPONENT_KEYS and component["status"] in COMPONENT_STATUSES
    core = next(c for c in summary["components"] if c["name"] == "Core")
    assert core["group"] is True and core["components"] == ["checkout", "payments", "db"]
    assert core["status"] == "major_outage"
    [shown] = summary["incidents"]
    assert set(shown) == INCIDENT_KEYS and shown["status"] == "identified" and shown["impact"] == "major"
    assert shown["status"] in INCIDENT_STATUSES and shown["impact"] in IMPACTS
    assert shown["shortlink"] == f"https://status.example.com/status/incidents/{incident.id}"
    newest, first = shown["incident_updates"]
    assert set(newest) == UPDATE_KEYS and newest["status"] == "identified" and newest["body"] == "Found it."
    assert newest["affected_components"] == [
        {"code": "checkout", "name": "Checkout", "old_status": "partial_outage", "new_status": "major_outage"}
    ]
    assert {a["code"] for a in first["affected_components"]} == {"checkout", "api"}
    assert first["created_at"].endswith("Z") and first["display_at"] == first["created_at"]
    status = (await fetch(bot.url, "/api/v2/status.json")).json()
    assert status == {"page": summary["page"], "status": summary["status"]}
    assert (await fetch(bot.url, "/api/v2/incidents/unresolved.json")).json()["incidents"] == [shown]
    assert (await fetch(bot.url, "/api/v2/incidents.json")).json()["incidents"] == [shown]
    components = (await fetch(bot.url, "/api/v2/components.json")).json()
    assert components["components"] == summary["components"]


async def test_the_feeds_have_one_entry_per_public_update(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Checkout is down")
    for number, status in enumerate(("investigating", "identified", "monitoring")):
        draft = PublicDraft(
            status, "Checkout errors", f"Update number {number}.", {"checkout": "partial_outage"}
        )
        await bot.runtime.statuspage.post_trusted(incident.id, draft, "ops", f"cli:{number}")
    for path, version in (("/history.atom", "atom10"), ("/history.rss", "rss20")):
        answer = await fetch(bot.url, path)
        assert answer.headers["Content-Type"].startswith(("application/atom+xml", "application/rss+xml"))
        feed = feedparser.parse(answer.body)
        assert not feed.bozo and feed.version == version
        assert [e.title for e in feed.entries] == [
            "Checkout errors - Monitoring", "Checkout errors - Identified", "Checkout errors - Investigating"
        ]  # fmt: skip
        assert "Update number 2." in feed.entries[0].summary
        assert "Checkout (Partial Outage)" in feed.entries[2].summary
        assert feed.entries[0].link == f"https://status.example.com/status/incidents/{incident.id}"
        assert len({e.id for e in feed.entries}) == 3


async def test_documents_are_rendered_once_per_change_and_revalidated(bot: BotUnderTest) -> None:
    site = bot.runtime.statuspage.site
    for path in PUBLIC_PATHS:
        answer = await fetch(bot.url, path)
        assert answer.status == 200, path
        assert answer.headers["Cache-Control"] == "public, max-age=30"
        assert answer.headers["ETag"].startswith('"') and answer.headers["Last-Modified"].endswith("GMT")
    before = site.current
    assert before is not None and before.renders == len(PUBLIC_PATHS)
    first = await fetch(bot.url, "/status")
    answers = await asyncio.gather(*(fetch(bot.url, "/status") for _ in range(20)))
    assert {a.body for a in answers} == {first.body} and site.current is before
    assert before.renders == len(PUBLIC_PATHS)  # twenty more requests, nothing rendered again
    again = await fetch(bot.url, "/status", **{"If-None-Match": first.headers["ETag"]})
    assert again.status == 304 and again.body == b""
    since = await fetch(
        bot.url, "/api/v2/status.json", **{"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status == 304

    incident = await declare(bot, "Checkout is down")
    await bot.runtime.statuspage.post_trusted(
        incident.id, PublicDraft("investigating", "Checkout errors", "Looking."), "ops", "cli:1"
    )
    changed = await fetch(bot.url, "/status", **{"If-None-Match": first.headers["ETag"]})
    assert changed.status == 200 and "Checkout errors" in changed.text
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert (await fetch(bot.url, "/status/incidents/999")).status == 404
    assert (await fetch(bot.url, "/api/v2/nothing.json")).status == 404


async def test_the_last_page_is_served_while_the_database_is_away(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Checkout is down")
    draft = PublicDraft("investigating", "Checkout errors", "Looking into it.")
    await bot.runtime.statuspage.post_trusted(incident.id, draft, "ops", "cli:1")
    before = await fetch(bot.url, "/status")
    site = bot.runtime.statuspage.site
    with refusing_port() as port:
        away = db.make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/gone")
        working, site.store = site.store, StatusPageStore(db.make_sessionmaker(away))
        try:
            site.invalidate()
            during = await fetch(bot.url, "/status")
            assert during.status == 200 and during.body == before.body
        finally:
            site.store = working
            await away.dispose()
    site.invalidate()
    assert (await fetch(bot.url, "/status")).status == 200
