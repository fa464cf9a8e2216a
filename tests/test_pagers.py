"""Paging clients against local PagerDuty and Opsgenie stand-ins: what is sent, what is refused, how fast."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
import pytest
import yaml
from pydantic import ValidationError

from bot.integrations.pagers import (
    OpsgenieClient,
    OpsgenieConfig,
    PagerDutyClient,
    PagerDutyConfig,
    PagerFailure,
    PagerProvider,
    PagingConfig,
    RequestOutcome,
    build_providers,
)
from bot.standin.pagers import OPSGENIE, OPSGENIE_KEY, PAGERDUTY, RunningPagers
from tests.processes import refusing_port

ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
PD_ENV = "INCIDENTBOT_PAGERDUTY_ROUTING_KEY"
OG_ENV = "INCIDENTBOT_OPSGENIE_API_KEY"
FAST = {"backoff": 0.05}
"""Retry backoff for 5xx in tests; Retry-After on 429 is still honoured as sent."""


@pytest.fixture
async def pagerduty(pagers: RunningPagers) -> AsyncIterator[PagerDutyClient]:
    client = PagerDutyClient(ROUTING_KEY, pagers.pagerduty_url, key_env=PD_ENV, **FAST)
    yield client
    await client.close()


@pytest.fixture
async def opsgenie(pagers: RunningPagers) -> AsyncIterator[OpsgenieClient]:
    client = OpsgenieClient(pagers.opsgenie_key, pagers.opsgenie_url, key_env=OG_ENV, **FAST)
    yield client
    await client.close()


async def within(seconds: float, call: Awaitable[Any]) -> tuple[Any, float]:
    """Run `call` under a hard deadline and report how long it took, so a hang fails the test instead."""
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        result = await call
    return result, time.monotonic() - started


async def failure(seconds: float, call: Awaitable[Any]) -> tuple[PagerFailure, float]:
    started = time.monotonic()
    with pytest.raises(PagerFailure) as caught:
        async with asyncio.timeout(seconds):
            await call
    return caught.value, time.monotonic() - started


# -- PagerDuty ------------------------------------------------------------------------------------


async def test_pagerduty_trigger_acknowledge_resolve(
    pagers: RunningPagers, pagerduty: PagerDutyClient
) -> None:
    link = "https://example.slack.com/archives/C0INC42"
    receipt = await pagerduty.trigger(
        "incidentbot-42", "Checkout errors at 12%", "critical", {"incident": 42, "service": "checkout"}, link
    )
    await pagerduty.acknowledge("incidentbot-42")
    await pagerduty.resolve("incidentbot-42")

    assert (receipt.provider, receipt.action, receipt.dedup_key) == ("pagerduty", "trigger", "incidentbot-42")
    events = pagers.state.accepted(PAGERDUTY)
    assert [(e.action, e.key, e.status) for e in events] == [
        ("trigger", "incidentbot-42", 202),
        ("acknowledge", "incidentbot-42", 202),
        ("resolve", "incidentbot-42", 202),
    ]
    payload = events[0].body["payload"]
    assert payload["summary"] == "Checkout errors at 12%"
    assert (payload["source"], payload["severity"]) == ("incidentbot", "critical")
    assert payload["custom_details"] == {"incident": 42, "service": "checkout"}
    assert events[0].body["links"] == [{"href": link, "text": "Incident channel"}]
    assert events[1].body == {"event_action": "acknowledge", "dedup_key": "incidentbot-42"}
    assert all("routing_key" not in e.body for e in pagers.state.events), "the stand-in must not keep keys"
    alert = pagers.state.alert(PAGERDUTY, "incidentbot-42")
    assert alert is not None
    assert alert.history == ["triggered", "acknowledged", "resolved"]


async def test_pagerduty_deduplicates_open_keys_and_reopens_resolved_ones(
    pagers: RunningPagers, pagerduty: PagerDutyClient
) -> None:
    await pagerduty.trigger("inc-7", "first", "error", {})
    await pagerduty.trigger("inc-7", "again", "error", {})
    alert = pagers.state.alert(PAGERDUTY, "inc-7")
    assert alert is not None
    assert (alert.status, alert.count) == ("triggered", 2)

    await pagerduty.resolve("inc-7")
    await pagerduty.trigger("inc-7", "back again", "warning", {})
    reopened = pagers.state.alert(PAGERDUTY, "inc-7")
    assert reopened is not None
    assert (reopened.status, reopened.count, reopened.severity) == ("triggered", 1, "warning")


async def test_pagerduty_accepts_acknowledge_and_resolve_of_unknown_keys(
    pagers: RunningPagers, pagerduty: PagerDutyClient
) -> None:
    """Like PagerDuty: nothing to apply is not an error, so an ack after a restart does not fail."""
    assert (await pagerduty.acknowledge("never-triggered")).dedup_key == "never-triggered"
    await pagerduty.resolve("never-triggered")
    assert pagers.state.alert(PAGERDUTY, "never-triggered") is None
    assert [e.status for e in pagers.state.events] == [202, 202]


async def test_pagerduty_summary_is_cut_to_1024_characters(
    pagers: RunningPagers, pagerduty: PagerDutyClient
) -> None:
    await pagerduty.trigger("long", "x" * 5000, "info", {})
    summary = pagers.state.accepted(PAGERDUTY)[0].body["payload"]["summary"]
    assert len(summary) == 1024
    assert summary.endswith("…")


async def test_pagerduty_refuses_a_routing_key_of_the_wrong_length(pagers: RunningPagers) -> None:
    key = "short-key-123"
    client = PagerDutyClient(key, pagers.pagerduty_url, key_env=PD_ENV)
    try:
        error, _ = await failure(5, client.trigger("inc-1", "db down", "critical", {}))
    finally:
        await client.close()
    assert (error.provider, error.action) == ("pagerduty", "trigger")
    assert "HTTP 400" in error.error
    assert "Length of 'routing_key' is incorrect (should be 32 characters)" in error.error
    assert PD_ENV in error.error
    assert key not in str(error)
    assert [e.status for e in pagers.state.refused(PAGERDUTY)] == [400]


async def test_unknown_severity_fails_before_anything_is_sent(
    pagers: RunningPagers, pagerduty: PagerDutyClient, opsgenie: OpsgenieClient
) -> None:
    for client in (pagerduty, opsgenie):
        error, _ = await failure(1, client.trigger("inc-1", "x", "SEV1", {}))
        assert "unknown severity 'SEV1'" in error.error
    assert pagers.state.events == []


# -- Opsgenie -------------------------------------------------------------------------------------


async def test_opsgenie_create_acknowledge_close(pagers: RunningPagers, opsgenie: OpsgenieClient) -> None:
    link = "https://example.slack.com/archives/C0INC42"
    created = await opsgenie.trigger(
        "incidentbot-42", "Checkout errors at 12%", "critical", {"incident": 42, "service": "checkout"}, link
    )
    acked = await opsgenie.acknowledge("incidentbot-42")
    closed = await opsgenie.resolve("incidentbot-42")

    events = pagers.state.accepted(OPSGENIE)
    assert [(e.action, e.key) for e in events] == [
        ("create", "incidentbot-42"),
        ("acknowledge", "incidentbot-42"),
        ("close", "incidentbot-42"),
    ]
    body = events[0].body
    assert (body["message"], body["alias"]) == ("Checkout errors at 12%", "incidentbot-42")
    assert body["priority"] == "P1"
    assert body["description"] == f"Checkout errors at 12%\n\nIncident channel: {link}"
    assert body["details"] == {"incident": "42", "service": "checkout", "link": link}
    alert = pagers.state.alert(OPSGENIE, "incidentbot-42")
    assert alert is not None
    assert alert.history == ["open", "acknowledged", "closed"]
    for receipt in (created, acked, closed):
        assert receipt.reference is not None
        assert pagers.state.requests[receipt.reference]["success"] is True


async def test_opsgenie_aliases_survive_the_url(pagers: RunningPagers, opsgenie: OpsgenieClient) -> None:
    alias = "inc/42 checkout?#%"
    await opsgenie.trigger(alias, "odd alias", "warning", {})
    await opsgenie.acknowledge(alias)
    alert = pagers.state.alert(OPSGENIE, alias)
    assert alert is not None
    assert alert.status == "acknowledged"


async def test_opsgenie_accepts_an_unknown_alias_and_fails_it_later(
    pagers: RunningPagers, opsgenie: OpsgenieClient
) -> None:
    """Opsgenie answers 202 at once; that the alert did not exist only shows in the request's status."""
    receipt = await opsgenie.acknowledge("never-created")
    assert receipt.reference is not None
    outcome = pagers.state.requests[receipt.reference]
    assert (outcome["success"], outcome["status"]) == (False, "Alert does not exist")
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{pagers.opsgenie_url}/v2/alerts/requests/{receipt.reference}",
            headers={"Authorization": f"GenieKey {OPSGENIE_KEY}"},
        ) as response,
    ):
        assert response.status == 200
        assert (await response.json())["data"]["status"] == "Alert does not exist"


async def test_opsgenie_says_later_whether_it_applied_a_request(
    pagers: RunningPagers, opsgenie: OpsgenieClient
) -> None:
    created = await opsgenie.trigger("incidentbot-7", "INC-7 SEV1: Checkout is down", "critical", {})
    assert await opsgenie.outcome(created.reference or "") == RequestOutcome(True, "Created alert")
    missing = await opsgenie.acknowledge("never-created")
    assert await opsgenie.outcome(missing.reference or "") == RequestOutcome(False, "Alert does not exist")
    assert await opsgenie.outcome("00000000-0000-0000-0000-000000000000") is None  # not processed yet

    pagers.reject_next_async("Integration is disabled")
    rejected = await opsgenie.trigger("incidentbot-8", "INC-8 SEV1: Search is down", "critical", {})
    disabled = RequestOutcome(False, "Integration is disabled")
    assert await opsgenie.outcome(rejected.reference or "") == disabled
    assert pagers.state.alert("opsgenie", "incidentbot-8") is None

    pagers.fail_next("opsgenie", status=401, body={"message": "Could not authenticate"})
    with pytest.raises(PagerFailure, match="opsgenie check failed: HTTP 401: Could not authenticate"):
        await opsgenie.outcome(created.reference or "")


async def test_opsgenie_message_is_cut_to_130_characters_and_the_rest_kept(
    pagers: RunningPagers, opsgenie: OpsgenieClient
) -> None:
    summary = "y" * 400
    await opsgenie.trigger("long", summary, "info", {})
    body = pagers.state.accepted(OPSGENIE)[0].body
    assert len(body["message"]) == 130
    assert body["message"].endswith("…")
    assert body["description"] == summary


@pytest.mark.parametrize(
    ("severity", "priority"), [("critical", "P1"), ("error", "P2"), ("warning", "P3"), ("info", "P4")]
)
async def test_opsgenie_priority_follows_severity(
    pagers: RunningPagers, opsgenie: OpsgenieClient, severity: str, priority: str
) -> None:
    await opsgenie.trigger("inc", "x", severity, {})
    assert pagers.state.accepted(OPSGENIE)[0].body["priority"] == priority


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        ("11111111-2222-3333-4444-555555555555", 401, "Could not authenticate"),
        ("not-a-genie-key", 422, "Key format is not valid!"),
    ],
)
async def test_opsgenie_refused_key_is_a_clear_failure(
    pagers: RunningPagers, key: str, status: int, message: str
) -> None:
    client = OpsgenieClient(key, pagers.opsgenie_url, key_env=OG_ENV)
    try:
        error, _ = await failure(5, client.trigger("inc-1", "db down", "critical", {}))
    finally:
        await client.close()
    assert error.error.startswith(f"HTTP {status}: {message}")
    assert OG_ENV in error.error
    assert key not in str(error)
    assert [e.status for e in pagers.state.refused(OPSGENIE)] == [status]


async def test_standins_validate_like_the_services(pagers: RunningPagers) -> None:
    """Raw requests, so client tests can trust that what the stand-ins accept the services would too."""
    async with aiohttp.ClientSession() as session:
        event = {"routing_key": ROUTING_KEY, "event_action": "trigger", "payload": {"source": "x"}}
        async with session.post(f"{pagers.pagerduty_url}/v2/enqueue", json=event) as response:
            body = await response.json()
        assert response.status == 400
        assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
        assert "'payload.summary' is missing or blank" in body["errors"]
        assert "'payload.severity' is missing or blank" in body["errors"]

        ack = {"routing_key": ROUTING_KEY, "event_action": "acknowledge"}
        async with session.post(f"{pagers.pagerduty_url}/v2/enqueue", json=ack) as response:
            assert response.status == 400
            assert "'dedup_key' is missing or blank" in (await response.json())["errors"]

        alerts, headers = f"{pagers.opsgenie_url}/v2/alerts", {"Authorization": f"GenieKey {OPSGENIE_KEY}"}
        async with session.post(alerts, json={"alias": "a"}, headers=headers) as response:
            body = await response.json()
        assert response.status == 422
        assert body["errors"] == {"message": "Message can not be empty."}
        assert "requestId" in body

        async with session.post(alerts, json={"message": "m"}) as response:
            assert response.status == 401
            assert (await response.json())["message"] == "Could not authenticate"
    assert pagers.state.accepted() == []


# -- failures, retries, deadlines -----------------------------------------------------------------


@pytest.mark.parametrize("provider", [PAGERDUTY, OPSGENIE])
async def test_server_errors_are_retried_then_reported(
    pagers: RunningPagers, pagerduty: PagerDutyClient, opsgenie: OpsgenieClient, provider: str
) -> None:
    client = pagerduty if provider == PAGERDUTY else opsgenie
    pagers.fail_next(provider, 500, times=3)
    error, elapsed = await failure(5, client.trigger("inc-1", "db down", "critical", {}))
    assert "HTTP 500: Internal Server Error" in error.error
    assert "gave up after 3 attempts" in error.error
    assert elapsed < 2
    assert [e.status for e in pagers.state.events] == [500, 500, 500]


async def test_one_server_error_then_success(pagers: RunningPagers, pagerduty: PagerDutyClient) -> None:
    pagers.fail_next(PAGERDUTY, 503, {"status": "error", "message": "Service Unavailable"})
    receipt, _ = await within(5, pagerduty.trigger("inc-1", "db down", "critical", {}))
    assert receipt.dedup_key == "inc-1"
    assert [e.status for e in pagers.state.events] == [503, 202]


async def test_a_non_json_error_page_is_quoted(pagers: RunningPagers, opsgenie: OpsgenieClient) -> None:
    pagers.fail_next(OPSGENIE, 502, "<html><body>502 Bad Gateway</body></html>", times=3)
    error, _ = await failure(5, opsgenie.resolve("inc-1"))
    assert "HTTP 502: <html><body>502 Bad Gateway</body></html>" in error.error
    assert error.action == "resolve"


@pytest.mark.parametrize("provider", [PAGERDUTY, OPSGENIE])
async def test_rate_limit_is_waited_out_then_succeeds(
    pagers: RunningPagers, pagerduty: PagerDutyClient, opsgenie: OpsgenieClient, provider: str
) -> None:
    client = pagerduty if provider == PAGERDUTY else opsgenie
    pagers.rate_limit_next(provider, retry_after=1)
    receipt, elapsed = await within(5, client.trigger("inc-1", "db down", "critical", {}))
    assert receipt.action == "trigger"
    assert elapsed >= 0.9, "Retry-After was not honoured"
    assert [e.status for e in pagers.state.events] == [429, 202]
    assert pagers.state.alert(provider, "inc-1") is not None


async def test_rate_limit_that_persists_fails(pagers: RunningPagers, pagerduty: PagerDutyClient) -> None:
    pagers.rate_limit_next(PAGERDUTY, retry_after=0.1, times=10)
    error, elapsed = await failure(5, pagerduty.trigger("inc-1", "db down", "critical", {}))
    assert "HTTP 429: Requests for this service are arriving too quickly" in error.error
    assert "gave up after 3 attempts" in error.error
    assert elapsed < 2
    assert len(pagers.state.events) == 3


async def test_a_long_retry_after_fails_at_once(pagers: RunningPagers, opsgenie: OpsgenieClient) -> None:
    """Waiting a minute in silence is worse than telling the IC now that the page did not go out."""
    pagers.rate_limit_next(OPSGENIE, retry_after=60)
    error, elapsed = await failure(5, opsgenie.trigger("inc-1", "db down", "critical", {}))
    assert "HTTP 429: You are making too many requests!" in error.error
    assert "asked to wait more than 5 s" in error.error
    assert elapsed < 1
    assert len(pagers.state.events) == 1


@pytest.mark.parametrize("client_class", [PagerDutyClient, OpsgenieClient])
async def test_connection_refused_fails_fast(client_class: type[PagerDutyClient | OpsgenieClient]) -> None:
    with refusing_port() as port:
        base_url = f"http://127.0.0.1:{port}"
        client = client_class(OPSGENIE_KEY, base_url)
        try:
            error, elapsed = await failure(5, client.trigger("inc-1", "db down", "critical", {}))
        finally:
            await client.close()
    assert f"unreachable at {base_url}" in error.error
    assert elapsed < 2


async def test_a_silent_server_hits_the_deadline() -> None:
    """Accepts the connection, never answers: the client must give up at its own deadline."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = PagerDutyClient(ROUTING_KEY, f"http://127.0.0.1:{port}", timeout=0.5)
    try:
        error, elapsed = await failure(5, client.acknowledge("inc-1"))
    finally:
        await client.close()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    assert error.error == f"no answer from http://127.0.0.1:{port} within 0.5 s"
    assert 0.4 < elapsed < 2


async def test_keys_never_appear_in_failures_even_when_the_provider_echoes_them(
    pagers: RunningPagers, pagerduty: PagerDutyClient, opsgenie: OpsgenieClient
) -> None:
    pagers.fail_next(PAGERDUTY, 400, {"status": "invalid event", "message": f"unknown key {ROUTING_KEY}"})
    pagers.fail_next(OPSGENIE, 403, {"message": f"GenieKey {OPSGENIE_KEY} is disabled"})
    pd_error, _ = await failure(5, pagerduty.trigger("inc-1", "x", "info", {}))
    og_error, _ = await failure(5, opsgenie.trigger("inc-1", "x", "info", {}))
    assert "unknown key [redacted]" in pd_error.error
    assert "GenieKey [redacted] is disabled" in og_error.error
    for text in (str(pd_error), str(og_error), repr(pagerduty), repr(opsgenie)):
        assert ROUTING_KEY not in text
        assert OPSGENIE_KEY not in text


async def test_one_session_per_client_reused_across_calls(pagerduty: PagerDutyClient) -> None:
    await pagerduty.trigger("inc-1", "x", "info", {})
    first = pagerduty._http._session
    await pagerduty.resolve("inc-1")
    assert pagerduty._http._session is first
    await pagerduty.close()
    assert first is not None
    assert first.closed


# -- configuration --------------------------------------------------------------------------------

YAML = """
paging:
  pagerduty: {}
  opsgenie:
    base_url: https://api.eu.opsgenie.com/
    api_key_env: OPSGENIE_KEY_FOR_BOT
"""


def test_paging_section_of_the_yaml() -> None:
    config = PagingConfig.model_validate(yaml.safe_load(YAML)["paging"])
    assert config.pagerduty == PagerDutyConfig()
    assert config.opsgenie == OpsgenieConfig(
        base_url="https://api.eu.opsgenie.com", api_key_env="OPSGENIE_KEY_FOR_BOT"
    )
    assert PagingConfig.model_validate(yaml.safe_load("pagerduty:\n")).pagerduty == PagerDutyConfig()
    assert PagingConfig().pagerduty is None


@pytest.mark.parametrize(
    ("section", "complaint"),
    [
        ({"pagerduty": {"routing_key": "abc"}}, "keys never go in the config file"),
        ({"opsgenie": {"api_key": "abc"}}, "keys never go in the config file"),
        ({"pagerduty": {"base_url": "events.pagerduty.com"}}, "must start with https://"),
        ({"opsgenie": {"api_key_env": "MY KEY"}}, "is not an environment variable name"),
        ({"victorops": {}}, "Extra inputs are not permitted"),
    ],
)
def test_bad_paging_sections_are_refused(section: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PagingConfig.model_validate(section)
    assert complaint in json.dumps([e["msg"] for e in caught.value.errors()])


def test_problems_name_the_missing_or_malformed_variable() -> None:
    config = PagingConfig.model_validate(yaml.safe_load(YAML)["paging"])
    assert config.problems({}) == [
        f"paging.pagerduty: environment variable {PD_ENV} is not set, so no page will reach PagerDuty "
        "(set it to the service's Events API v2 integration key)",
        "paging.opsgenie: environment variable OPSGENIE_KEY_FOR_BOT is not set, so no page will reach "
        "Opsgenie (set it to an API integration key)",
    ]
    assert config.problems({PD_ENV: ROUTING_KEY, "OPSGENIE_KEY_FOR_BOT": OPSGENIE_KEY}) == []
    malformed = config.problems({PD_ENV: "abc123", "OPSGENIE_KEY_FOR_BOT": "xyz-secret"})
    assert malformed == [
        f"paging.pagerduty: {PD_ENV} is 6 characters long; a PagerDuty Events API v2 integration key has 32",
        "paging.opsgenie: OPSGENIE_KEY_FOR_BOT does not look like an Opsgenie API key "
        "(expected a UUID such as 01234567-89ab-cdef-0123-456789abcdef)",
    ]
    assert not any("abc123" in p or "xyz-secret" in p for p in malformed)
    assert PagingConfig().problems({}) == []
    assert config.problems({PD_ENV: "   ", "OPSGENIE_KEY_FOR_BOT": ""})[0].startswith(
        f"paging.pagerduty: environment variable {PD_ENV} is not set"
    )


async def test_build_providers_only_with_keys(pagers: RunningPagers) -> None:
    config = PagingConfig(
        pagerduty=PagerDutyConfig(base_url=pagers.pagerduty_url),
        opsgenie=OpsgenieConfig(base_url=pagers.opsgenie_url),
    )
    assert build_providers(config, {}) == []
    assert build_providers(PagingConfig(), {PD_ENV: ROUTING_KEY, OG_ENV: OPSGENIE_KEY}) == []
    only_pd = build_providers(config, {PD_ENV: ROUTING_KEY, OG_ENV: " "})
    assert [p.name for p in only_pd] == ["pagerduty"]

    providers = build_providers(config, {PD_ENV: f"{ROUTING_KEY}\n", OG_ENV: OPSGENIE_KEY})
    try:
        assert [p.name for p in providers] == ["pagerduty", "opsgenie"]
        for provider in providers:
            assert isinstance(provider, PagerProvider)
            await provider.trigger("inc-9", "built from config", "error", {"by": "test"})
    finally:
        for provider in [*providers, *only_pd]:
            await provider.close()
    assert [(e.provider, e.key) for e in pagers.state.accepted()] == [
        ("pagerduty", "inc-9"),
        ("opsgenie", "inc-9"),
    ]
