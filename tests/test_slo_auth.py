"""Prometheus behind authentication (Grafana Cloud, a Mimir or Thanos gateway, an auth proxy).

An aiohttp proxy in front of the real Prometheus fixture refuses requests without the expected bearer
token, basic auth and tenant header, as such gateways do; the CLI is configured through the environment only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.cli import run
from tests.fixtures_prometheus import RunningPrometheus
from tests.test_slo_slack import SPECS

EXPECTED: dict[str, str] = {}
BEARER = {
    "Authorization": "Bearer s3cret-token",
    "X-Scope-OrgID": "tenant-1",
    "X-Extra": "a: b",
}


@pytest.fixture
def gateway(prometheus: RunningPrometheus) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The gateway runs in a thread of its own: the CLI under test blocks the test's thread."""
    seen: list[dict[str, str]] = []
    EXPECTED.clear()
    EXPECTED.update(BEARER)

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = dict(request.headers)
        seen.append(headers)
        if any(headers.get(name) != value for name, value in EXPECTED.items()):
            return web.Response(status=401, text="missing credentials")
        body = await request.read()
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                f"{prometheus.url}{request.path_qs}",
                data=body,
                headers={"Content-Type": headers.get("Content-Type", "")} if body else None,
            ) as upstream,
        ):
            return web.Response(
                status=upstream.status, body=await upstream.read(), content_type="application/json"
            )

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_report_through_an_authenticating_gateway(
    gateway: tuple[str, list[dict[str, str]]],
    prometheus: RunningPrometheus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, seen = gateway
    specs = tmp_path / "slos.yml"
    # Twice the SLOs with other objectives, so the grouped (POST) path is used as well as the single one.
    specs.write_text(SPECS + "\n---\n" + SPECS.replace("availability", "strict").replace("99.9", "99.99"))
    config = tmp_path / "incidentbot.yml"
    config.write_text(f"slos: [{specs}]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(config))
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_URL", url)
    at = prometheus.at.isoformat()
    assert run(["slo", "report", "--format", "json", "--at", at]) == 2  # no credentials: 401, unreachable
    assert "Prometheus unreachable (HTTP 401" in capsys.readouterr().out

    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_BEARER_TOKEN", "s3cret-token")
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_HEADERS", "X-Scope-OrgID: tenant-1; X-Extra: a: b")
    assert run(["slo", "report", "--format", "json", "--at", at]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and all(r["error"] is None for r in rows)
    assert {h.get("Content-Type", "").split(";")[0] for h in seen[-4:]} >= {
        "application/x-www-form-urlencoded"
    }


def test_basic_auth_through_the_gateway(
    gateway: tuple[str, list[dict[str, str]]],
    prometheus: RunningPrometheus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _ = gateway
    EXPECTED["Authorization"] = "Basic " + base64.b64encode(b"grafana:glc_key").decode()
    specs = tmp_path / "slos.yml"
    specs.write_text(SPECS)
    (tmp_path / "incidentbot.yml").write_text(f"slos: [{specs}]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(tmp_path / "incidentbot.yml"))
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_URL", url)
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_HEADERS", "X-Scope-OrgID: tenant-1\nX-Extra: a: b")
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_USERNAME", "grafana")
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_PASSWORD", "glc_key")
    assert run(["slo", "gate", "--service", "search", "--at", prometheus.at.isoformat()]) == 0
    assert "PASS search/availability: ok" in capsys.readouterr().out
