"""The client of Atlassian Statuspage's API against the stand-in: the bodies Atlassian expects, and
refusals that say whether trying again can help."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.integrations.hosted_statuspage import HostedStatuspage, HostedUpdate, PushFailed
from bot.standin.statuspage_api import API_KEY, PAGE_ID, StatuspageState, running_statuspage

API = "cmp0api00001"
FIRST = HostedUpdate(
    "Checkout errors", "investigating", "We are looking into it.", "major", {API: "partial_outage"}
)


@pytest.fixture
async def hosted() -> AsyncIterator[StatuspageState]:
    async with running_statuspage() as state:
        yield state


def client(hosted: StatuspageState, key: str = API_KEY, page: str = PAGE_ID) -> HostedStatuspage:
    return HostedStatuspage(hosted.api_url, key, page)


async def test_an_incident_is_opened_then_updated_with_its_components(hosted: StatuspageState) -> None:
    incident_id = await client(hosted).open_incident(FIRST)
    resolved = HostedUpdate("Checkout errors", "resolved", "Fixed.", "major", {API: "operational"})
    await client(hosted).update_incident(incident_id, resolved)
    shown = hosted.incidents[incident_id]
    assert (shown["name"], shown["status"], shown["impact"]) == ("Checkout errors", "resolved", "major")
    assert [u["body"] for u in shown["incident_updates"]] == ["Fixed.", "We are looking into it."]
    assert hosted.components[API] == "operational" and shown["resolved_at"]
    method, path, body = hosted.calls[0]
    assert (method, path) == ("POST", f"/v1/pages/{PAGE_ID}/incidents")
    assert body == {
        "incident": {
            "name": "Checkout errors",
            "status": "investigating",
            "body": "We are looking into it.",
            "impact_override": "major",
            "components": {API: "partial_outage"},
            "component_ids": [API],
            "deliver_notifications": True,
        }
    }
    assert "name" not in hosted.calls[1][2]["incident"]


@pytest.mark.parametrize(
    ("setup", "status", "retry", "words"),
    [
        ("bad key", 401, False, "API key was refused"),
        ("bad page", 404, False, "page_id"),
        ("unknown component", 422, False, "does not belong to this page"),
        ("429", 429, True, "HTTP 429"),
        ("503", 503, True, "HTTP 503"),
    ],
)
async def test_refusals_say_what_failed_and_whether_to_try_again(
    hosted: StatuspageState, setup: str, status: int, retry: bool, words: str
) -> None:
    update, key, page = FIRST, API_KEY, PAGE_ID
    if setup == "bad key":
        key = "wrong"
    elif setup == "bad page":
        page = "nosuchpage"
    elif setup == "unknown component":
        update = HostedUpdate("X", "investigating", "Y", "minor", {"cmp0nope0000": "major_outage"})
    else:
        hosted.fail_next(int(setup), {"error": "slow down"}, {"Retry-After": "7"} if setup == "429" else {})
    with pytest.raises(PushFailed) as failed:
        await client(hosted, key, page).open_incident(update)
    assert failed.value.status == status and words in str(failed.value)
    assert (failed.value.retry_in is not None) is retry
    if setup == "429":
        assert failed.value.retry_in == 7.0
    assert hosted.incidents == {}


async def test_an_unreachable_page_is_worth_trying_again() -> None:
    async with running_statuspage() as gone:
        url = gone.api_url
    with pytest.raises(PushFailed) as failed:
        await HostedStatuspage(url, API_KEY, PAGE_ID).open_incident(FIRST)
    assert (
        failed.value.status is None and failed.value.retry_in and "could not be reached" in str(failed.value)
    )
